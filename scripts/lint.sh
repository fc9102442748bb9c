#!/usr/bin/env bash
# `npm run lint`: rustfmt and clippy (warnings are errors) over the core and the binding.
exec bash "$(dirname "$0")/rust-lints.sh"
