using System.Numerics;
using System.Numerics.Tensors;

namespace Functional.AD;

// The elementwise vocabulary of jax.numpy and jax.nn beyond the core (declared in Primitives/Prims.Elementwise.cs).
public static partial class Np
{
    // ---------------------------------------------------------------- trigonometry

    /// <summary><c>arcsin x</c> elementwise, in radians (NaN outside [-1, 1]); <c>Math.Asin</c> and <c>MathF.Asin</c> read in scalar code.
    /// Example: <c>Asin(1)</c> is <c>π/2</c>.</summary>
    /// <param name="x">The operand.</param><returns>The arcsine (float32 for integer operands).</returns>
    public static Tensor Asin(Tensor x) => Eager.Map(Prims.Asin, x);

    /// <summary><c>arccos x</c> elementwise, in radians (NaN outside [-1, 1]). Example: <c>Acos(1)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The arccosine.</returns>
    public static Tensor Acos(Tensor x) => Eager.Map(Prims.Acos, x);

    /// <summary>
    /// The angle of the point (x, y), <c>atan2(y, x)</c>, elementwise with broadcasting, in (-π, π]; <c>Math.Atan2</c> reads
    /// in scalar code. The derivative is <c>(x dy - y dx) / (x² + y²)</c>. Example: <c>Atan2(1, -1)</c> is <c>3π/4</c>.
    /// </summary>
    /// <param name="y">The ordinate.</param><param name="x">The abscissa.</param><returns>The angle.</returns>
    public static Tensor Atan2(Tensor y, Tensor x) => FloatBinary<Fn2<Atan2Fn>>("Atan2", y, x);

    /// <summary><c>tan x</c> elementwise (radians). Example: <c>Tan(π/4)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The tangent.</returns>
    public static Tensor Tan(Tensor x) => Eager.Map(Prims.Tan, x);

    /// <summary><c>sinh x = (eˣ - e⁻ˣ)/2</c> elementwise. Example: <c>Sinh(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The hyperbolic sine.</returns>
    public static Tensor Sinh(Tensor x) => Eager.Map(Prims.Sinh, x);

    /// <summary><c>cosh x = (eˣ + e⁻ˣ)/2</c> elementwise. Example: <c>Cosh(0)</c> is <c>1</c>.</summary>
    /// <param name="x">The operand.</param><returns>The hyperbolic cosine.</returns>
    public static Tensor Cosh(Tensor x) => Eager.Map(Prims.Cosh, x);

    /// <summary><c>arsinh x = ln(x + √(x² + 1))</c> elementwise. Example: <c>Asinh(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The inverse hyperbolic sine.</returns>
    public static Tensor Asinh(Tensor x) => Eager.Map(Prims.Asinh, x);

    /// <summary><c>arcosh x = ln(x + √(x² - 1))</c> elementwise (NaN below 1). Example: <c>Acosh(1)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The inverse hyperbolic cosine.</returns>
    public static Tensor Acosh(Tensor x) => Eager.Map(Prims.Acosh, x);

    /// <summary><c>artanh x = ½ ln((1 + x)/(1 - x))</c> elementwise (±∞ at ±1, NaN beyond). Example: <c>Atanh(0.5)</c> is <c>0.5493...</c>.</summary>
    /// <param name="x">The operand.</param><returns>The inverse hyperbolic tangent.</returns>
    public static Tensor Atanh(Tensor x) => Eager.Map(Prims.Atanh, x);

    // ---------------------------------------------------------------- the error and gamma families

    /// <summary>
    /// The complementary error function <c>erfc x = 1 - erf x</c> elementwise, accurate at large x where <c>1 - Erf(x)</c>
    /// gives 0 (see <see cref="ScalarMath.Erfc(double)"/>). Example: <c>Erfc(5)</c> is <c>1.5375e-12</c>.
    /// </summary>
    /// <param name="x">The operand.</param><returns>The complementary error function.</returns>
    public static Tensor Erfc(Tensor x) => Eager.Map(Prims.Erfc, x);

    /// <summary>The inverse error function elementwise: <c>Erf(ErfInv(y)) = y</c> for y in (-1, 1); ±1 give ±∞.
    /// Example: <c>ErfInv(0)</c> is <c>0</c>.</summary>
    /// <param name="y">The operand.</param><returns>The inverse error function.</returns>
    public static Tensor ErfInv(Tensor y) => Eager.Map(Prims.ErfInv, y);

    /// <summary><c>ln |Γ(x)|</c> elementwise (jax.lax.lgamma; +∞ at 0, -1, -2, ...); its derivative is <see cref="Digamma"/>.
    /// Example: <c>Lgamma(5)</c> is <c>ln 24</c>.</summary>
    /// <param name="x">The operand.</param><returns>The log-gamma function.</returns>
    public static Tensor Lgamma(Tensor x) => Eager.Map(Prims.Lgamma, x);

    /// <summary>The digamma function <c>ψ(x) = Γ'(x)/Γ(x)</c> elementwise; its derivative is <c>Polygamma(1, x)</c>.
    /// Example: <c>Digamma(1)</c> is <c>-0.5772...</c> (minus the Euler–Mascheroni constant).</summary>
    /// <param name="x">The operand.</param><returns>The digamma function.</returns>
    public static Tensor Digamma(Tensor x) => Eager.Map(Prims.Digamma, x);

    /// <summary>
    /// The polygamma function <c>ψ⁽ⁿ⁾(x)</c>, the n-th derivative of <see cref="Digamma"/>, elementwise with broadcasting
    /// (jax.scipy.special.polygamma). <paramref name="n"/> holds non-negative integers (anything else gives NaN) and is
    /// not differentiated; the derivative in x is <c>Polygamma(n + 1, x)</c>. Example: <c>Polygamma(1, 1)</c> is <c>π²/6</c>.
    /// </summary>
    /// <param name="n">The order(s).</param><param name="x">The operand.</param><returns>The polygamma function.</returns>
    public static Tensor Polygamma(Tensor n, Tensor x) => FloatBinary<Fn2<PolygammaFn>>("Polygamma", n, x);

    // ---------------------------------------------------------------- rounding and floored division

    /// <summary><c>⌊x⌋</c> elementwise (integers unchanged); zero derivative. <c>Math.Floor</c> reads in scalar code.
    /// Example: <c>Floor([-1.5, 1.5])</c> is <c>[-2., 1.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The floor.</returns>
    public static Tensor Floor(Tensor x) => Unary<FloorOp>(x);

    /// <summary><c>⌈x⌉</c> elementwise (integers unchanged); zero derivative. <c>Math.Ceiling</c> reads in scalar code.
    /// Example: <c>Ceil([-1.5, 1.5])</c> is <c>[-1., 2.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The ceiling.</returns>
    public static Tensor Ceil(Tensor x) => Unary<CeilOp>(x);

    /// <summary>x rounded to the nearest integer, halves to even (numpy, JAX and <c>Math.Round</c>'s default); integers
    /// unchanged; zero derivative. Example: <c>Round([0.5, 1.5, 2.5, -0.5])</c> is <c>[0., 2., 2., -0.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The rounded values.</returns>
    public static Tensor Round(Tensor x) => Unary<RoundOp>(x);

    /// <summary>x rounded toward zero (integers unchanged); zero derivative. <c>Math.Truncate</c> reads in scalar code.
    /// Example: <c>Trunc([-1.5, 1.5])</c> is <c>[-1., 1.]</c>.</summary>
    /// <param name="x">The operand.</param><returns>The truncated values.</returns>
    public static Tensor Trunc(Tensor x) => Unary<TruncOp>(x);

    /// <summary>
    /// numpy's and JAX's <c>mod</c> (Python's <c>%</c>): <c>a - ⌊a/b⌋ b</c>, with the sign of the divisor, elementwise with
    /// broadcasting, exact on integers (a zero integer divisor throws <see cref="DivideByZeroException"/>, as C# does).
    /// C#'s <c>%</c> is <see cref="Remainder"/> (truncated, the sign of the dividend). The derivative is
    /// <c>da - ⌊a/b⌋ db</c>. Example: <c>Mod([-7, 7], 3)</c> is <c>[2, 1]</c>; <c>Mod(7, -3)</c> is <c>-2</c>.
    /// </summary>
    /// <param name="a">The dividend.</param><param name="b">The divisor.</param><returns>The floored remainder.</returns>
    public static Tensor Mod(Tensor a, Tensor b) => Binary<Fn2<ModFn>>("Mod", a, b);

    /// <summary>
    /// numpy's and JAX's <c>floor_divide</c> (Python's <c>//</c>): <c>⌊a/b⌋</c> elementwise with broadcasting, exact on
    /// integers (a zero integer divisor throws <see cref="DivideByZeroException"/>); consistent with <see cref="Mod"/>:
    /// <c>a = FloorDivide(a, b) * b + Mod(a, b)</c>. Zero derivative. Example: <c>FloorDivide([-7, 7], 2)</c> is <c>[-4, 3]</c>.
    /// </summary>
    /// <param name="a">The dividend.</param><param name="b">The divisor.</param><returns>The floored quotient.</returns>
    public static Tensor FloorDivide(Tensor a, Tensor b) => Binary<Fn2<FloorDivideFn>>("FloorDivide", a, b);

    // ---------------------------------------------------------------- powers, norms, log-sums

    /// <summary><c>ln(eᵃ + eᵇ)</c> elementwise with broadcasting, without overflow (<c>max + log1p(e^-|a-b|)</c>).
    /// Example: <c>LogAddExp(1000, 1000)</c> is <c>1000 + ln 2</c>; <c>LogAddExp(0, -1e30)</c> is <c>0</c>.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The log of the sum of exponentials.</returns>
    public static Tensor LogAddExp(Tensor a, Tensor b) => FloatBinary<Fn2<LogAddExpFn>>("LogAddExp", a, b);

    /// <summary><c>1/√x</c> elementwise (jax.lax.rsqrt). Example: <c>Rsqrt(4)</c> is <c>0.5</c>.</summary>
    /// <param name="x">The operand.</param><returns>The reciprocal square root.</returns>
    public static Tensor Rsqrt(Tensor x) => Eager.Map(Prims.Rsqrt, x);

    /// <summary><c>∛x</c> elementwise, real for negative x; <c>Math.Cbrt</c> reads in scalar code. Example: <c>Cbrt(-8)</c> is <c>-2</c>.</summary>
    /// <param name="x">The operand.</param><returns>The cube root.</returns>
    public static Tensor Cbrt(Tensor x) => Eager.Map(Prims.Cbrt, x);

    /// <summary><c>√(a² + b²)</c> elementwise with broadcasting, without overflow (<c>double.Hypot</c>, which reads in scalar code).
    /// Example: <c>Hypot(3, 4)</c> is <c>5</c>; <c>Hypot(1e200, 1e200)</c> is finite.</summary>
    /// <param name="a">Left operand.</param><param name="b">Right operand.</param><returns>The hypotenuse.</returns>
    public static Tensor Hypot(Tensor a, Tensor b) => FloatBinary<Fn2<HypotFn>>("Hypot", a, b);

    // ---------------------------------------------------------------- tests

    /// <summary>The bool mask of NaN elements (integers and bools: all false); <c>double.IsNaN</c> reads in scalar code.
    /// Example: <c>IsNan([1, NaN])</c> is <c>[false, true]</c>.</summary>
    /// <param name="x">The operand.</param><returns>A bool tensor.</returns>
    public static Tensor IsNan(Tensor x) => Test(x, "Np.IsNan", double.IsNaN, float.IsNaN, false);

    /// <summary>The bool mask of finite elements (not ±∞, not NaN; integers and bools: all true); <c>double.IsFinite</c>
    /// reads in scalar code. Example: <c>IsFinite([1, inf, NaN])</c> is <c>[true, false, false]</c>.</summary>
    /// <param name="x">The operand.</param><returns>A bool tensor.</returns>
    public static Tensor IsFinite(Tensor x) => Test(x, "Np.IsFinite", double.IsFinite, float.IsFinite, true);

    // ---------------------------------------------------------------- activations (jax.nn)

    /// <summary>
    /// GELU, exact form (jax.nn.gelu(x, approximate=False), torch's default): <c>x Φ(x) = ½ x erfc(-x/√2)</c>, accurate for
    /// large negative x. Example: <c>Gelu(1)</c> is <c>0.8413...</c>. The tanh form is <c>Gelu(x, approximate: true)</c>.
    /// </summary>
    /// <param name="x">The operand.</param><returns>The activation.</returns>
    public static Tensor Gelu(Tensor x) => Eager.Map(Prims.Gelu, x);

    /// <summary>
    /// GELU in either form: <paramref name="approximate"/> true gives the tanh form
    /// <c>½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))</c> (jax.nn.gelu's default), false the exact <see cref="Gelu(Tensor)"/>.
    /// Inside an expression the flag must be a constant (trees cannot omit optional arguments, so both overloads exist).
    /// Example: <c>Gelu(x, approximate: true)</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="approximate">The tanh form when true.</param><returns>The activation.</returns>
    public static Tensor Gelu(Tensor x, bool approximate) => approximate ? Eager.Map(Prims.GeluTanh, x) : Gelu(x);

    /// <summary>SiLU (swish) <c>x σ(x)</c> elementwise (jax.nn.silu). Example: <c>Silu(0)</c> is <c>0</c>.</summary>
    /// <param name="x">The operand.</param><returns>The activation.</returns>
    public static Tensor Silu(Tensor x) => Eager.Map(Prims.Silu, x);

    /// <summary><c>ln σ(x) = -softplus(-x)</c> elementwise (jax.nn.log_sigmoid), exact for large negative x
    /// (<c>LogSigmoid(-1000)</c> is <c>-1000</c>). Example: <c>LogSigmoid(0)</c> is <c>-ln 2</c>.</summary>
    /// <param name="x">The operand.</param><returns>The log-sigmoid.</returns>
    public static Tensor LogSigmoid(Tensor x) => Eager.Map(Prims.LogSigmoid, x);

    /// <summary>
    /// Leaky ReLU <c>x ≥ 0 ? x : s x</c> elementwise with broadcasting (jax.nn.leaky_relu, whose default slope is 0.01:
    /// write <c>LeakyRelu(x, 0.01)</c>). The slope may be a tensor and is differentiated too (PReLU).
    /// Example: <c>LeakyRelu([-2, 3], 0.1)</c> is <c>[-0.2, 3.]</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="negativeSlope">The slope below zero.</param><returns>The activation.</returns>
    public static Tensor LeakyRelu(Tensor x, Tensor negativeSlope) => FloatBinary<Fn2<LeakyReluFn>>("LeakyRelu", x, negativeSlope);

    /// <summary>
    /// ELU <c>x &gt; 0 ? x : α (eˣ - 1)</c> elementwise with broadcasting (jax.nn.elu, whose default α is 1: write
    /// <c>Elu(x, 1.0)</c>); differentiable in α too. Example: <c>Elu(-1, 1.0)</c> is <c>-0.6321...</c>.
    /// </summary>
    /// <param name="x">The operand.</param><param name="alpha">The scale below zero.</param><returns>The activation.</returns>
    public static Tensor Elu(Tensor x, Tensor alpha) => FloatBinary<Fn2<EluFn>>("Elu", x, alpha);

    // ---------------------------------------------------------------- plumbing

    /// <summary>A float-only binary function: integer and bool operands (after promotion) are computed in float32, as jax.numpy does.</summary>
    static Tensor FloatBinary<TOp>(string name, Tensor a, Tensor b) where TOp : IBinaryOp
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var (dt, _) = DTypes.Promote(a.DType, a.IsWeak, b.DType, b.IsWeak);
        if (!DTypes.IsFloat(dt)) return Binary<TOp>(name, Eager.FloatOperand(a), Eager.FloatOperand(b));
        return Binary<TOp>(name, a, b);
    }

    static Tensor Test(Tensor x, string name, Func<double, bool> f64, Func<float, bool> f32, bool onIntegers)
    {
        if (x is null) throw new ArgumentNullException(nameof(x), $"{name}: the tensor x is null.");
        var r = new bool[x.Size];
        switch (x.DType)
        {
            case DType.Float64: { var s = x.Span<double>(); for (int i = 0; i < r.Length; i++) r[i] = f64(s[i]); break; }
            case DType.Float32: { var s = x.Span<float>(); for (int i = 0; i < r.Length; i++) r[i] = f32(s[i]); break; }
            case DType.Float16 or DType.BFloat16: { var s = Eager.Data<float>(x); for (int i = 0; i < r.Length; i++) r[i] = f32(s[i]); break; }
            default: Array.Fill(r, onIntegers); break;
        }
        return Eager.Make(r, x.Dims);
    }
}

/// <summary>A scalar function of two operands, for <see cref="Fn2{TF}"/>: double and float forms, and integer forms where it has them.</summary>
internal interface IScalarFn2
{
    static abstract double F64(double a, double b);
    static abstract float F32(float a, float b);
    static virtual int I32(int a, int b) => throw new NotSupportedException("an integer form");
    static virtual long I64(long a, long b) => throw new NotSupportedException("an integer form");
}

/// <summary>The eager kernel of a binary primitive given by its scalar functions (broadcasting comes from <see cref="Kernels.Binary{T, TOp}"/>).</summary>
internal struct Fn2<TF> : IBinaryOp where TF : IScalarFn2
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> =>
        typeof(T) == typeof(double) ? (T)(object)TF.F64((double)(object)a, (double)(object)b)
        : typeof(T) == typeof(float) ? (T)(object)TF.F32((float)(object)a, (float)(object)b)
        : typeof(T) == typeof(int) ? (T)(object)TF.I32((int)(object)a, (int)(object)b)
        : (T)(object)TF.I64((long)(object)a, (long)(object)b);
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = Apply(a[i], b[i]); }
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = Apply(a[i], b); }
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = Apply(a, b[i]); }
}

internal struct Atan2Fn : IScalarFn2
{
    public static double F64(double y, double x) => Math.Atan2(y, x);
    public static float F32(float y, float x) => ScalarMath.Atan2(y, x);
}

internal struct PolygammaFn : IScalarFn2
{
    public static double F64(double n, double x) => ScalarMath.Polygamma(n, x);
    public static float F32(float n, float x) => ScalarMath.Polygamma(n, x);
}

internal struct LogAddExpFn : IScalarFn2
{
    public static double F64(double a, double b) => ScalarMath.LogAddExp(a, b);
    public static float F32(float a, float b) => ScalarMath.LogAddExp(a, b);
}

internal struct HypotFn : IScalarFn2
{
    public static double F64(double a, double b) => double.Hypot(a, b);
    public static float F32(float a, float b) => ScalarMath.Hypot(a, b);
}

internal struct LeakyReluFn : IScalarFn2
{
    public static double F64(double x, double s) => ScalarMath.LeakyRelu(x, s);
    public static float F32(float x, float s) => ScalarMath.LeakyRelu(x, s);
}

internal struct EluFn : IScalarFn2
{
    public static double F64(double x, double a) => ScalarMath.Elu(x, a);
    public static float F32(float x, float a) => ScalarMath.Elu(x, a);
}

/// <summary>The floored modulus; on integers exact, the sign of the divisor (a zero divisor throws, as C#'s % does).</summary>
internal struct ModFn : IScalarFn2
{
    public static double F64(double a, double b) => ScalarMath.Mod(a, b);
    public static float F32(float a, float b) => ScalarMath.Mod(a, b);
    // b = -1: the remainder is 0 (C#'s MinValue % -1 would overflow)
    public static int I32(int a, int b) { if (b == -1) return 0; int r = a % b; return r != 0 && (r < 0) != (b < 0) ? r + b : r; }
    public static long I64(long a, long b) { if (b == -1) return 0; long r = a % b; return r != 0 && (r < 0) != (b < 0) ? r + b : r; }
}

/// <summary>Floor division; on integers exact (MinValue // -1 wraps to MinValue, as numpy's does; a zero divisor throws).</summary>
internal struct FloorDivideFn : IScalarFn2
{
    public static double F64(double a, double b) => ScalarMath.FloorDivide(a, b);
    public static float F32(float a, float b) => ScalarMath.FloorDivide(a, b);
    public static int I32(int a, int b) { if (b == -1) return unchecked(-a); int q = a / b; return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q; }
    public static long I64(long a, long b) { if (b == -1) return unchecked(-a); long q = a / b; return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q; }
}

/// <summary>⌊x⌋ on floats; integers unchanged.</summary>
internal struct FloorOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Floor(Rounding.As<T, double>(x), Rounding.AsW<T, double>(d));
        else if (typeof(T) == typeof(float)) TensorPrimitives.Floor(Rounding.As<T, float>(x), Rounding.AsW<T, float>(d));
        else x.CopyTo(d);
    }
}

/// <summary>⌈x⌉ on floats; integers unchanged.</summary>
internal struct CeilOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Ceiling(Rounding.As<T, double>(x), Rounding.AsW<T, double>(d));
        else if (typeof(T) == typeof(float)) TensorPrimitives.Ceiling(Rounding.As<T, float>(x), Rounding.AsW<T, float>(d));
        else x.CopyTo(d);
    }
}

/// <summary>Round half to even on floats; integers unchanged.</summary>
internal struct RoundOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Round(Rounding.As<T, double>(x), MidpointRounding.ToEven, Rounding.AsW<T, double>(d));
        else if (typeof(T) == typeof(float)) TensorPrimitives.Round(Rounding.As<T, float>(x), MidpointRounding.ToEven, Rounding.AsW<T, float>(d));
        else x.CopyTo(d);
    }
}

/// <summary>Round toward zero on floats; integers unchanged.</summary>
internal struct TruncOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Truncate(Rounding.As<T, double>(x), Rounding.AsW<T, double>(d));
        else if (typeof(T) == typeof(float)) TensorPrimitives.Truncate(Rounding.As<T, float>(x), Rounding.AsW<T, float>(d));
        else x.CopyTo(d);
    }
}

internal static class Rounding
{
    public static ReadOnlySpan<U> As<TT, U>(ReadOnlySpan<TT> x) where TT : unmanaged where U : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<TT, U>(x);
    public static Span<U> AsW<TT, U>(Span<TT> x) where TT : unmanaged where U : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<TT, U>(x);
}
