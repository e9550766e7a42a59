//! Float → int8 conversion for firmware-core (in progress).
