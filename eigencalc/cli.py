"""The command line: ``eigencalc <subcommand>``.

A facade: the code lives in :mod:`eigencalc.io.cli`;
this module re-exports its public names so that user code keeps working.
"""

from .io.cli import (  # noqa: F401
    ACTIVATION_NAMES, JSON_SCHEMA_VERSION, emit, cmd_dual, cmd_critical, cmd_spectrum,
    cmd_sphere, cmd_decay, cmd_learn, cmd_verify, vars_of, cmd_demo, build_parser, main,
)

__all__ = ['ACTIVATION_NAMES', 'JSON_SCHEMA_VERSION', 'emit', 'cmd_dual', 'cmd_critical', 'cmd_spectrum', 'cmd_sphere', 'cmd_decay', 'cmd_learn', 'cmd_verify', 'vars_of', 'cmd_demo', 'build_parser', 'main']
