from watui.cli import entry

entry()
