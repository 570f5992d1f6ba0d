using TorchSharp;
using static TorchSharp.torch;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

// The Torch column of the elementwise vocabulary (Primitives/Prims.Elementwise.cs): libtorch's own operations.
internal static partial class Lowerings
{
    /// <summary>
    /// <paramref name="f"/> on x computed in float32 when x is a half (float16, bfloat16), the result rounded once, as the
    /// CPU backend computes halves; libtorch's CPU kernels of the special functions do not all take halves.
    /// </summary>
    static TT Wide(TT x, Func<TT, TT> f) =>
        x.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? f(x.to_type(ScalarType.Float32)).to_type(x.dtype) : f(x);

    static TT Wide(TT a, TT b, Func<TT, TT, TT> f) =>
        a.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? f(a.to_type(ScalarType.Float32), b.to_type(ScalarType.Float32)).to_type(a.dtype) : f(a, b);

    static TensorOp Wew(Func<TT, TT> f) => Ew(a => Wide(a, f));
    static TensorOp Wew(Func<TT, TT, TT> f) => Ew((a, b) => Wide(a, b, f));

    /// <summary>
    /// ψ⁽ⁿ⁾(x) for a tensor of orders: <c>(-1)ⁿ⁺¹ n! ζ(n + 1, x)</c> with libtorch's Hurwitz zeta (how libtorch's own
    /// polygamma computes it for n ≥ 1), digamma where n is 0, NaN where n is not a non-negative integer.
    /// </summary>
    static TT PolygammaOf(TT n, TT x)
    {
        n = n.to_type(x.dtype);
        var sign = n.remainder(2) * 2 - 1;
        var factorial = (n + 1).lgamma().exp();
        var r = torch.where(n.eq(0), x.digamma(), sign * factorial * torch.special.zeta(n + 1, x));
        var valid = n.ge(0).logical_and(n.eq(n.floor()));
        return torch.where(valid, r, torch.full_like(r, double.NaN));
    }

    /// <summary>The entries of the elementwise vocabulary, added to <paramref name="table"/>.</summary>
    static Dictionary<Primitive, TorchLowering> WithElementwiseVocabulary(Dictionary<Primitive, TorchLowering> table)
    {
        var entries = new Dictionary<Primitive, TorchLowering>
        {
            [Prims.Asin] = Wew(a => a.asin()),
            [Prims.Acos] = Wew(a => a.acos()),
            [Prims.Atan2] = Wew((y, x) => y.atan2(x)),
            [Prims.Sinh] = Wew(a => a.sinh()),
            [Prims.Cosh] = Wew(a => a.cosh()),
            [Prims.Asinh] = Wew(a => a.asinh()),
            [Prims.Acosh] = Wew(a => a.acosh()),
            [Prims.Atanh] = Wew(a => a.atanh()),
            [Prims.Tan] = Wew(a => a.tan()),
            [Prims.Erfc] = Wew(a => a.erfc()),
            [Prims.ErfInv] = Wew(a => a.erfinv()),
            [Prims.Lgamma] = Wew(a => a.lgamma()),
            [Prims.Digamma] = Wew(a => a.digamma()),
            // the order operand is not cast to the output's dtype (it is not differentiated): PolygammaOf converts it
            [Prims.Polygamma] = EwOp((c, x) => Wide(x[1]!, v => PolygammaOf(x[0]!, v))),
            // integers are their own floor, ceiling, rounding and truncation
            [Prims.Floor] = EwOp((c, x) => IsInt(c) ? x[0]! : x[0]!.floor()),
            [Prims.Ceil] = EwOp((c, x) => IsInt(c) ? x[0]! : x[0]!.ceil()),
            // libtorch's round is half to even, as numpy's
            [Prims.Round] = EwOp((c, x) => IsInt(c) ? x[0]! : x[0]!.round()),
            [Prims.Trunc] = EwOp((c, x) => IsInt(c) ? x[0]! : x[0]!.trunc()),
            // libtorch's remainder is floored (the sign of the divisor), its fmod truncated
            [Prims.Mod] = Ew((a, b) => a.remainder(b)),
            [Prims.FloorDivide] = Ew((a, b) => a.div(b, rounding_mode: RoundingMode.floor)),
            [Prims.LogAddExp] = Wew((a, b) => torch.logaddexp(a, b)),
            [Prims.Rsqrt] = Wew(a => a.rsqrt()),
            // libtorch has no cube root: sign(x) |x|^(1/3)
            [Prims.Cbrt] = Wew(a => a.sign() * a.abs().pow(1.0 / 3)),
            [Prims.Hypot] = Wew((a, b) => a.hypot(b)),
            [Prims.IsNan] = Ew(a => a.isnan()),
            [Prims.IsFinite] = Ew(a => a.isfinite()),
            // x erfc(-x/sqrt 2)/2 and x sigmoid(2z), as the CPU computes them: libtorch's gelu, x (1 + erf(x/sqrt 2))/2 and
            // x (1 + tanh z)/2, round its tail at large negative x to 0
            [Prims.Gelu] = Wew(a => 0.5 * a * (a * -0.70710678118654752440).erfc()),
            [Prims.GeluTanh] = Wew(a => a * (2 * ScalarMath.GeluTanhScale * (a + ScalarMath.GeluTanhCubic * a * a * a)).sigmoid()),
            [Prims.Silu] = Wew(a => a.silu()),
            [Prims.LogSigmoid] = Wew(a => a.log_sigmoid()),
            // the slope and alpha are tensors (differentiable, broadcast): libtorch's leaky_relu and elu take scalars only
            [Prims.LeakyRelu] = Ew((x, s) => torch.where(x.ge(0), x, x * s)),
            [Prims.Elu] = Wew((x, a) => torch.where(x.gt(0), x, a * x.expm1())),
        };
        foreach (var (p, lowering) in entries) table.Add(p, lowering);
        return table;
    }
}
