"""The HTTP gateway: the only door for web and mobile clients."""
