// Two or more broker instances behind the driver.
/**
 * A load balancer inside the driver: requests to `origin` (the issuer every instance shares) go to
 * the instances in turn, one request each (round-robin, no stickiness); other URLs are left alone.
 */
export function roundRobin(origin, instances) {
  let next = 0;
  const targets = instances.map((u) => new URL(u));
  return (url) => {
    if (targets.length === 0 || url.origin !== origin) return url;
    const to = targets[next++ % targets.length];
    const out = new URL(url);
    out.protocol = to.protocol;
    out.host = to.host;
    return out;
  };
}
