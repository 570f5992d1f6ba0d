namespace Functional.AD;

/// <summary>
/// The "double where" trick, done by reverse mode itself. <c>Np.Where(mask, a, b)</c> sends <c>a</c> a cotangent that
/// is exactly zero where the mask did not select it; the derivative of <c>a</c>'s own operations may be inf or NaN
/// there (<c>1/x</c> at 0 for <c>Log(x)</c>), and IEEE's <c>0 * inf = NaN</c> would poison the gradient. So a
/// cotangent coming out of a Where's transpose is <em>masked</em>, stays masked through the transposes of elementwise
/// primitives (it is still zero at the same places), and the transposes of <c>Mul</c> and <c>Div</c> multiply a masked
/// cotangent by a "zero-safe" product: <c>ct == 0 ? 0 : ct * y</c>. Non-elementwise primitives (sums, products of
/// matrices) end the mask. docs/sharp-bits.md says where this differs from plain IEEE.
/// </summary>
internal static class MaskedCotangents
{
    /// <summary>Whether the cotangents a transpose rule of <paramref name="op"/> gives are masked: it masks them itself
    /// (<see cref="Primitive.MasksCotangents"/>), or its input cotangent is masked and it keeps the mask (elementwise, or
    /// <see cref="Primitive.KeepsCotangentMask"/>).</summary>
    public static bool Propagates(Primitive op, bool inputMasked) =>
        op.MasksCotangents || inputMasked && (op.Elementwise || op.KeepsCotangentMask);

    /// <summary><c>ct * y</c>, or <c>ct == 0 ? 0 : ct * y</c> when the cotangent is masked.</summary>
    public static V Mul(RuleCtx c, V ct, V y) => c.SafeCt ? Safe(ct, ct * y) : ct * y;

    /// <summary><c>ct / y</c>, or <c>ct == 0 ? 0 : ct / y</c> when the cotangent is masked.</summary>
    public static V Div(RuleCtx c, V ct, V y) => c.SafeCt ? Safe(ct, ct / y) : ct / y;

    static V Safe(V ct, V product)
    {
        var zero = ct.Const(0);
        return R.Where(R.Equal(ct, zero), product.Kind == Kind.Tensor && ct.Kind != Kind.Tensor ? R.ZerosOf(product) : zero, product);
    }
}
