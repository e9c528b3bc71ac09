"""ecobridge: an open platform for sharing eco-environmental data across borders."""

__version__ = "0.1.0"
