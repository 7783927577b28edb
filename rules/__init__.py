"""gradlint's rules, one per module; shipped inside the wheel as ``gradlint.rules``."""
