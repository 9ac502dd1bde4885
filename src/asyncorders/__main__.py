from asyncorders.cli.main import app

app(prog_name="asyncorders")
