"""hubnet controller: authoritative subnet-per-node allocation, REST API, router programming."""
