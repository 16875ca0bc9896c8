// The scale-out variants of the login rows: the broker on Redis Cluster or Sentinel, with
// wait_replicas, or as several instances behind the driver; each compared with its baseline.
import { pairedRatios } from './stats.mjs';

export const STORES = ['single', 'cluster', 'sentinel'];
const STORE_LABEL = { single: 'one Redis', cluster: 'Redis Cluster', sentinel: 'Redis Sentinel' };
const MAX_INSTANCES = 4;

/**
 * The variants that `--store` and `--instances` ask for. Each names the side it is compared with
 * (`compareTo`): a topology with the broker on one Redis (side `broker`), wait_replicas with the
 * same topology without it, N instances with one instance on the same store.
 */
export function planVariants(store, instanceCount) {
  if (!STORES.includes(store)) throw new Error(`--store must be one of ${STORES.join(', ')}, not "${store}"`);
  const instances = typeof instanceCount === 'string' && instanceCount.trim() ? Number(instanceCount) : instanceCount;
  if (!Number.isInteger(instances) || instances < 1 || instances > MAX_INSTANCES)
    throw new Error(`--instances must be a whole number from 1 to ${MAX_INSTANCES}, not "${instanceCount}"`);
  const variants = [];
  const label = STORE_LABEL[store];
  if (store !== 'single')
    variants.push({
      id: store,
      label: `${label}, 1 instance`,
      store,
      instances: 1,
      waitReplicas: 0,
      compareTo: 'broker',
    });
  if (store === 'sentinel')
    variants.push({
      id: 'sentinel_wait1',
      label: `${label}, wait_replicas: 1`,
      store,
      instances: 1,
      waitReplicas: 1,
      compareTo: 'sentinel',
    });
  if (instances > 1)
    variants.push({
      id: `${store}_x${instances}`,
      label: `${label}, ${instances} instances round-robin`,
      store,
      instances,
      waitReplicas: 0,
      compareTo: store === 'single' ? 'broker' : store,
    });
  return variants;
}

const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN);

/**
 * variant / baseline for one figure: the median of the per-repetition ratios when both sides have
 * as many repetitions (they alternate, so repetition i of each ran back to back), else the ratio
 * of the medians.
 */
function figureRatio(v, base, key) {
  const has = (side) => side.reps?.every((r) => Number.isFinite(r[key]));
  if (v.reps?.length && v.reps.length === base.reps?.length && has(v) && has(base))
    return pairedRatios(
      v.reps.map((r) => r[key]),
      base.reps.map((r) => r[key]),
    ).median;
  return ratio(v[key].median, base[key].median);
}

/**
 * One variant of a measured row against the side it is compared with: rate, CPU per login (all
 * its broker processes) and store round trips per login, each as variant / baseline.
 */
export function compareVariant(row, variant) {
  const v = row[variant.id];
  const base = row[variant.compareTo];
  if (!v || !base) throw new Error(`row ${row.id} lacks ${v ? variant.compareTo : variant.id}`);
  return {
    // Per pair from the rates scaled to the whole machine where the reps have them (lib/stats.mjs).
    rate:
      v.reps?.[0]?.rateOnMachine !== undefined ? figureRatio(v, base, 'rateOnMachine') : figureRatio(v, base, 'rate'),
    cpuMsPerFlow: figureRatio(v, base, 'cpuMsPerFlow'),
    storeRoundTrips: v.storeRoundTripsPerFlow - base.storeRoundTripsPerFlow,
  };
}
