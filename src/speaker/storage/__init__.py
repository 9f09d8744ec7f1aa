"""Where state lives: the metadata database and files under the data directory."""
