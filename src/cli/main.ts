#!/usr/bin/env node
/** Entry point of the `kubemcp` executable (package.json bin). */
import { runMain } from './run.js';

runMain('kubemcp');
