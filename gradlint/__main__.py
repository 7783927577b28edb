from gradlint.cli import entry_point

entry_point()
