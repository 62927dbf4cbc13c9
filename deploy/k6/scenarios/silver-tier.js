// Silver tier (the seed's): 500 virtual users for 5 minutes, each iteration login + sync +
// send; passes when the send p95 is under 800 ms and every endpoint's error rate is
// under 1 %. deploy/k6/README.md says how to run it.
import { iteration, setupTier, tierOptions } from './lib/nebu.js';

const VUS = 500;
export const options = tierOptions(VUS, '5m', 800);
export function setup() { return setupTier(VUS); }
export default function (data) { iteration(data); }
