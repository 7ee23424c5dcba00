// What several emulator test files share: an emulator started for the file, typed clients against it
// through its kubeconfig, and the file's namespace.
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { KubeEmulator, type KubeEmulatorOptions } from "../src/index.js";

export interface EmulatorFixture {
  kube: KubeEmulator;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

/** Starts an emulator with `options`, creates `namespace` in it, and returns clients for it. */
export async function startEmulatorWithNamespace(namespace: string, options: KubeEmulatorOptions): Promise<EmulatorFixture> {
  const kube = await KubeEmulator.start(options);
  const kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  return { kube, core, custom };
}
