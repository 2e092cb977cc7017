"""The documents service: metadata, versions and blobs of every file in a case folder."""
