#!/bin/bash
# Never writes a reward: the verifier timeout must stop it.
sleep 100000
