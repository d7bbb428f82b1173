"""The owner's API from another process: ``client.py`` (OwnerClient, find_owner, the trust checks) and
``session.py`` (RemoteSession, the SessionPort of a running owner). No aiohttp.web and no watui.core.session
here (the import contract in pyproject.toml; tests/test_import_hygiene.py checks what loads)."""
