"""Sub-commands of the ``twin`` CLI; each module registers its commands on :data:`twin.cli.app`."""
