#!/usr/bin/env node
/**
 * Entry point of the `kubectl-kubemcp` executable (package.json bin): with it on PATH, kubectl runs
 * it for `kubectl kubemcp …` (kubectl's plugin mechanism), e.g. `kubectl kubemcp check --as … --tool …`.
 */
import { runMain } from './run.js';

runMain('kubectl kubemcp');
