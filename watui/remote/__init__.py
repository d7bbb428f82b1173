"""The owner's API from another process: ``client.py`` (OwnerClient and ServeClient, find_owner, the trust
checks), ``session.py`` (RemoteSession, the SessionPort of a running owner) and ``errors.py`` (what a client is
told: the hierarchy the public ``watui.client`` raises). No aiohttp.web and no watui.core.session here (the
import contract in pyproject.toml; tests/unit/test_import_hygiene.py checks what loads)."""
