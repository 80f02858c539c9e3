export function OversightPage() {
  return <h1>OversightPage</h1>;
}
