// Shared by reduce.wgsl and reduce_rows.wgsl. OP: 0 sum, 1 max, 2 min, 3 argmax (index within the
// row, as f32), 4 argmin.
override OP: u32 = 0u;

// Whether (b, ib) should replace (a, ia) in a max-like (OP 1, 3) or min-like (OP 2, 4) reduction:
// the first index wins ties and NaN wins over numbers, as in PyTorch. An index of NONE marks "no value
// yet", which stands in for -inf/+inf (WGSL cannot spell an infinite constant).
const NONE: u32 = 0xffffffffu;
fn better(a: f32, ia: u32, b: f32, ib: u32) -> bool {
  if (ib == NONE) { return false; }
  if (ia == NONE) { return true; }
  // NaN tested on the bits: compilers may fold `a != a` to false (see common.wgsl).
  if (is_nan1(a)) { return false; }
  if (is_nan1(b)) { return true; }
  let wins = select((b < a), (b > a), OP == 1u || OP == 3u);
  return wins || (b == a && ib < ia);
}
