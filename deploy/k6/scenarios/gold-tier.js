// Gold tier (the seed's): 1000 virtual users for 5 minutes, each iteration login + sync +
// send; passes when the send p95 is under 500 ms and every endpoint's error rate is
// under 1 %. deploy/k6/README.md says how to run it.
import { iteration, setupTier, tierOptions } from './lib/nebu.js';

const VUS = 1000;
export const options = tierOptions(VUS, '5m', 500);
export function setup() { return setupTier(VUS); }
export default function (data) { iteration(data); }
