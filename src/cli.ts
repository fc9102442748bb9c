#!/usr/bin/env node
/** The `persisting` command line (bin). The commands live in ./cli/, one module each. */
import { main } from './cli/index.js'

void main(process.argv)
