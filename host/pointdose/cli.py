def main(argv=None):
    raise SystemExit("pointdose: command line not built yet")
