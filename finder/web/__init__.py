"""Web layer: thin blueprints that parse, authorise, call the rules modules and render."""
