"""CLI subcommands: one module per command, each with ``register(subparsers)``.

``cardionets --help`` imports every command module (cardionets.cli.COMMAND_MODULES) to build the
parser, so a command module imports only argparse-level things at its top and the library it
runs inside its ``run`` function: that keeps the CLI's start-up at about 0.1 s instead of the
~3 s torch takes. These are the only deliberate function-level imports of internal modules
besides optional dependencies (cardionets.optional) and the few marked ``# lazy:`` with a reason."""
