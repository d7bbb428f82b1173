"""Everything that reads or writes ``<session_path>``: the store, its locks, the stored login, cleanup, LevelDB."""
