/** A kubeconfig for one API server at `server`, with a bearer token user: for tests that serve the API themselves. */
export function tokenKubeconfig(server: string): string {
  return `apiVersion: v1
kind: Config
current-context: t
clusters: [{name: t, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: t, user: {token: abc}}]
contexts: [{name: t, context: {cluster: t, user: t}}]
`;
}
