"""The application: the factory that wires every part and registers every blueprint (`factory`), the CLI
(`cli`), the built handbook served at /handbook/ (`handbook_site`). May import every other package."""
