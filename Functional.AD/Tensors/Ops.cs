using System.Numerics;
using System.Numerics.Tensors;

namespace Functional.AD;

/// <summary>An elementwise binary operation: a scalar form and span forms for the broadcasting fast paths.</summary>
internal interface IBinaryOp
{
    static abstract T Apply<T>(T a, T b) where T : unmanaged, INumber<T>;
    static abstract void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>;
    static abstract void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T>;
    static abstract void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>;
}

/// <summary>An elementwise unary operation over a contiguous span.</summary>
internal interface IUnaryOp
{
    static abstract void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>;
}

/// <summary>An elementwise unary operation defined on floating point numbers only (integers are promoted to float32 first).</summary>
internal interface IFloatUnaryOp
{
    static abstract void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal struct AddOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => a + b;
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Add(a, b, d);
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Add(a, b, d);
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Add(b, a, d);
}

internal struct SubOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => a - b;
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Subtract(a, b, d);
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Subtract(a, b, d);
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Subtract(a, b, d);
}

internal struct MulOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => a * b;
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Multiply(a, b, d);
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Multiply(a, b, d);
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Multiply(b, a, d);
}

internal struct DivOp : IBinaryOp
{
    // integers divide element by element (C#'s truncating division; TensorPrimitives' vectorised integer division can
    // throw DivideByZeroException on the padding lanes of a short span)
    static bool IsInteger<T>() => typeof(T) == typeof(int) || typeof(T) == typeof(long);
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => a / b;
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (IsInteger<T>()) { for (int i = 0; i < d.Length; i++) d[i] = a[i] / b[i]; }
        else TensorPrimitives.Divide(a, b, d);
    }
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (IsInteger<T>()) { for (int i = 0; i < d.Length; i++) d[i] = a[i] / b; }
        else TensorPrimitives.Divide(a, b, d);
    }
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (IsInteger<T>()) { for (int i = 0; i < d.Length; i++) d[i] = a / b[i]; }
        else TensorPrimitives.Divide(a, b, d);
    }
}

internal struct PowOp : IBinaryOp
{
    // defined on float32 and float64 only: integer operands are promoted to float32 before it runs
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> =>
        typeof(T) == typeof(double) ? (T)(object)Math.Pow((double)(object)a, (double)(object)b)
        : typeof(T) == typeof(float) ? (T)(object)MathF.Pow((float)(object)a, (float)(object)b)
        : throw new NotSupportedException($"Pow on {typeof(T).Name}");
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Pow(Cast<T, double>(a), Cast<T, double>(b), CastW<T, double>(d));
        else TensorPrimitives.Pow(Cast<T, float>(a), Cast<T, float>(b), CastW<T, float>(d));
    }
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (b == T.CreateTruncating(2)) TensorPrimitives.Multiply(a, a, d);
        else if (typeof(T) == typeof(double)) TensorPrimitives.Pow(Cast<T, double>(a), (double)(object)b, CastW<T, double>(d));
        else TensorPrimitives.Pow(Cast<T, float>(a), (float)(object)b, CastW<T, float>(d));
    }
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double)) TensorPrimitives.Pow((double)(object)a, Cast<T, double>(b), CastW<T, double>(d));
        else TensorPrimitives.Pow((float)(object)a, Cast<T, float>(b), CastW<T, float>(d));
    }
    static ReadOnlySpan<U> Cast<TT, U>(ReadOnlySpan<TT> x) where TT : unmanaged where U : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<TT, U>(x);
    static Span<U> CastW<TT, U>(Span<TT> x) where TT : unmanaged where U : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Cast<TT, U>(x);
}

internal struct RemOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => a % b;
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = a[i] % b[i]; }
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = a[i] % b; }
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> { for (int i = 0; i < d.Length; i++) d[i] = a % b[i]; }
}

internal struct MaxOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => T.Max(a, b);
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Max(a, b, d);
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Max(a, b, d);
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Max(b, a, d);
}

internal struct MinOp : IBinaryOp
{
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => T.Min(a, b);
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Min(a, b, d);
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Min(a, b, d);
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Min(b, a, d);
}

/// <summary>A comparison mask (1 where the test holds, 0 elsewhere); the span forms run the scalar loop.</summary>
internal struct CompareOp<TTest> : IBinaryOp where TTest : struct, ICompare
{
    public static void VV<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TTest.Test(a[i], b[i]) ? T.One : T.Zero;
    }
    public static void VS<T>(ReadOnlySpan<T> a, T b, Span<T> d) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TTest.Test(a[i], b) ? T.One : T.Zero;
    }
    public static void SV<T>(T a, ReadOnlySpan<T> b, Span<T> d) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TTest.Test(a, b[i]) ? T.One : T.Zero;
    }
    public static T Apply<T>(T a, T b) where T : unmanaged, INumber<T> => TTest.Test(a, b) ? T.One : T.Zero;
}

internal interface ICompare
{
    static abstract bool Test<T>(T a, T b) where T : unmanaged, INumber<T>;
}

internal struct GreaterTest : ICompare
{
    public static bool Test<T>(T a, T b) where T : unmanaged, INumber<T> => a > b;
}

internal struct LessTest : ICompare
{
    public static bool Test<T>(T a, T b) where T : unmanaged, INumber<T> => a < b;
}

internal struct GreaterEqualTest : ICompare
{
    public static bool Test<T>(T a, T b) where T : unmanaged, INumber<T> => a >= b;
}

internal struct LessEqualTest : ICompare
{
    public static bool Test<T>(T a, T b) where T : unmanaged, INumber<T> => a <= b;
}

internal struct EqualTest : ICompare
{
    public static bool Test<T>(T a, T b) where T : unmanaged, INumber<T> => a == b;
}

internal struct NegOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Negate(x, d);
}

internal struct ExpOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Exp(x, d);
}

internal struct LogOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Log(x, d);
}

internal struct TanhOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Tanh(x, d);
}

internal struct SigmoidOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, d);
}

internal struct SinOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sin(x, d);
}

internal struct CosOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Cos(x, d);
}

internal struct SqrtOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, d);
}

internal struct AbsOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Abs(x, d);
}

internal struct ReluOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T> => TensorPrimitives.Max(x, T.Zero, d);
}

internal struct SignOp : IUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            var v = x[i];
            d[i] = v > T.Zero ? T.One : v < T.Zero ? T.Zero - T.One : v; // keeps ±0 and NaN
        }
    }
}

/// <summary>softplus x = max(x, 0) + log1p(exp(-|x|)), with log1p accurate for tiny arguments.</summary>
internal struct SoftplusOp : IFloatUnaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = Kernels.Alloc<T>(x.Length);
        TensorPrimitives.Abs(x, e);
        TensorPrimitives.Negate(e, e);
        TensorPrimitives.Exp(e, e);          // u = exp(-|x|) in (0, 1]
        var w = Kernels.Alloc<T>(x.Length);
        TensorPrimitives.Add(e, T.One, w);   // w = 1 + u
        var l = Kernels.Alloc<T>(x.Length);
        TensorPrimitives.Log(w, l);
        for (int i = 0; i < x.Length; i++)
        {
            // log1p(u) = log(w) * u / (w - 1) corrects the rounding of w = 1 + u (Goldberg 1991, thm 4).
            var u = e[i];
            var wm1 = w[i] - T.One;
            var lp = wm1 == T.Zero ? u : l[i] * (u / wm1);
            var xi = x[i];
            d[i] = T.IsNaN(xi) ? xi : T.Max(xi, T.Zero) + lp;
        }
    }
}
