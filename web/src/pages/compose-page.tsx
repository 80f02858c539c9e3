export function ComposePage({ id }: { readonly id?: string }) {
  return <h1>ComposePage</h1>;
}
