using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>A spec whose operands in random programs keep to the given domains (where the inferred one would reach a
    /// pole or a branch point of the function).</summary>
    static PrimitiveSpec InDomains(string name, LambdaExpression f, Func<DType, Gen<Tensor[]>> inputs, params Domain[] domains) =>
        new() { Name = name, Function = f, Inputs = inputs, Domains = domains };

    /// <summary>The elementwise vocabulary of jax.numpy and jax.nn (Prims.Elementwise.cs): one line per primitive and case.</summary>
    static IEnumerable<PrimitiveSpec> ElementwiseVocabulary() =>
    [
        // trigonometry
        S("Asin", x => Asin(x), t => One(t, Domain.Unit)),
        S("Acos", x => Acos(x), t => One(t, Domain.Unit)),
        InDomains("Atan2", (Expression<Func<Tensor, Tensor, Tensor>>)((y, x) => Atan2(y, x)), t => Pair(t, Domain.Any, Domain.AwayFromZero), Domain.Any, Domain.AwayFromZero),
        InDomains("Tan", (Expression<Func<Tensor, Tensor>>)(x => Tan(x)), t => One(t, Domain.Unit), Domain.Unit),
        S("Sinh", x => Sinh(x), t => One(t)),
        S("Cosh", x => Cosh(x), t => One(t)),
        S("Asinh", x => Asinh(x), t => One(t)),
        // x in [1.2, 4]: away from the branch point at 1 (random programs would bring operands to 1: not fuzzed)
        S("Acosh", x => Acosh(x), t => One(t, Domain.Positive).Select(x => new[] { x[0] + 1.0 }), fuzzed: false),
        S("Atanh", x => Atanh(x), t => One(t, Domain.Unit)),
        // the error and gamma families
        S("Erfc", x => Erfc(x), t => One(t)),
        S("ErfInv", x => ErfInv(x), t => One(t, Domain.Unit)),
        S("Lgamma", x => Lgamma(x), t => One(t, Domain.Positive)),
        // between the poles -3 and -2, through the reflection formula
        S("Lgamma (negative)", x => Lgamma(x), t => One(t, Domain.Unit).Select(x => new[] { x[0] * 0.4 - 2.5 }), fuzzed: false),
        S("Digamma", x => Digamma(x), t => One(t, Domain.Positive)),
        S("Digamma (negative)", x => Digamma(x), t => One(t, Domain.Unit).Select(x => new[] { x[0] * 0.4 - 1.5 }), fuzzed: false),
        S("Polygamma(1, x)", x => Polygamma(1, x), t => One(t, Domain.Positive)),
        S("Polygamma(2, x)", x => Polygamma(2, x), t => One(t, Domain.Positive)),
        S("Polygamma(3, x) (negative)", x => Polygamma(3, x), t => One(t, Domain.Unit).Select(x => new[] { x[0] * 0.4 - 0.5 }), fuzzed: false),
        // rounding: zero derivative
        S("Floor", x => Floor(x), t => One(t), fd: false),
        S("Ceil", x => Ceil(x), t => One(t), fd: false),
        S("Round", x => Round(x), t => One(t), fd: false),
        S("Trunc", x => Trunc(x), t => One(t), fd: false),
        // floored modulus: operands kept where a / b stays in (-2.87, -2.34), so the floored quotient is -3 and finite
        // differences see no jump (not in random programs, which do not keep away from the jumps)
        S("Mod", (a, b) => Mod(2.2 + 0.1 * Tanh(a), -(0.85 + 0.05 * Tanh(b))), t => Pair(t), fuzzed: false),
        S("FloorDivide", (a, b) => FloorDivide(a, b), t => Pair(t, Domain.Any, Domain.AwayFromZero), fd: false),
        // powers, norms, log-sums
        S("LogAddExp", (a, b) => LogAddExp(a, b), t => Pair(t)),
        S("Rsqrt", x => Rsqrt(x), t => One(t, Domain.Positive)),
        InDomains("Cbrt", (Expression<Func<Tensor, Tensor>>)(x => Cbrt(x)), t => One(t, Domain.AwayFromZero), Domain.AwayFromZero),
        InDomains("Hypot", (Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Hypot(a, b)), t => Pair(t, Domain.Any, Domain.AwayFromZero), Domain.Any, Domain.AwayFromZero),
        // tests: NaN where the log of a negative number is taken
        S("IsNan", x => Where(IsNan(Log(x)), x, 2 * x), t => One(t, Domain.AwayFromZero), fuzzed: false),
        S("IsFinite", x => Where(IsFinite(Log(x)), x, 2 * x), t => One(t, Domain.AwayFromZero), fuzzed: false),
        // activations
        S("Gelu", x => Gelu(x), t => One(t)),
        S("Gelu(approximate: true)", x => Gelu(x, true), t => One(t)),
        S("Silu", x => Silu(x), t => One(t)),
        S("LogSigmoid", x => LogSigmoid(x), t => One(t)),
        InDomains("LeakyRelu", (Expression<Func<Tensor, Tensor, Tensor>>)((x, s) => LeakyRelu(x, s)), t => Pair(t, Domain.AwayFromZero, Domain.Any), Domain.AwayFromZero, Domain.Any),
        S("LeakyRelu(x, 0.01)", x => LeakyRelu(x, 0.01), t => One(t, Domain.AwayFromZero), fuzzed: false),
        InDomains("Elu", (Expression<Func<Tensor, Tensor, Tensor>>)((x, a) => Elu(x, a)), t => Pair(t, Domain.AwayFromZero, Domain.Positive), Domain.AwayFromZero, Domain.Positive),
    ];
}
