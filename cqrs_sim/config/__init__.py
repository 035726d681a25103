"""Configuration: what a scenario file says, read and checked.

Holds the units users write (``250ms``, ``800/s``) and how numbers are shown
in them, the service-time distributions, the scenario schema, the rules that
span several keys, the sizes a run can hold, the warnings, the resolved
scenario, the loader (YAML with line numbers, ``--set`` overrides, located
errors), data files and the generated scenario reference.

May import: core.
"""
