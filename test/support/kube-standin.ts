// The stand-in Kubernetes API server (scripts/kube-standin/, shared with `npm run demo`), with
// the tests' recorded cluster in test/fixtures/k8s as its default objects.
import {
  type KubeFixtures,
  type KubeStandin,
  loadKubeFixtures as loadFrom,
  type StandinOptions,
  startKubeStandin as startWith,
} from '../../scripts/kube-standin/server.ts';

export {
  type ContainerLogs,
  execKubeconfig,
  type Fault,
  type KubeFixtures,
  type KubeStandin,
  makeCertificates,
  type Obj,
  type RecordedRequest,
  type StandinOptions,
} from '../../scripts/kube-standin/server.ts';

export const FIXTURE_DIR = new URL('../fixtures/k8s/', import.meta.url).pathname;

export function loadKubeFixtures(dir = FIXTURE_DIR): Promise<KubeFixtures> {
  return loadFrom(dir);
}

/** Omitted collections come from test/fixtures/k8s; pass `[]` / `{}` for an empty cluster. */
export function startKubeStandin(opts: StandinOptions = {}): Promise<KubeStandin> {
  return startWith({ fixtureDir: FIXTURE_DIR, ...opts });
}
