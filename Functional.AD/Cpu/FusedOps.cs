using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Functional.AD;

/// <summary>
/// The vector code of fused elementwise loops (<see cref="Fusion"/>), Vector512 lanes: one method per operation,
/// called from the generated loop and inlined by the JIT. Exp and Log are .NET's vectorised ones (the same code
/// TensorPrimitives runs, so fused and eager results agree); tanh and sigmoid are built from exp as TensorPrimitives
/// builds them.
/// </summary>
internal static class Vec512Ops
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load<T>(T[] a, int i) where T : unmanaged => Vector512.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector512<T> v, T[] a, int i) where T : unmanaged => v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Splat<T>(T x) where T : unmanaged => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sub<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Mul<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Div<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Neg<T>(Vector512<T> a) where T : unmanaged => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Id<T>(Vector512<T> a) where T : unmanaged => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Abs<T>(Vector512<T> a) where T : unmanaged => Vector512.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sqrt<T>(Vector512<T> a) where T : unmanaged => Vector512.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp<T>(Vector512<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Exp(a.As<T, float>()).As<float, T>() : Vector512.Exp(a.As<T, double>()).As<double, T>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Log<T>(Vector512<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Log(a.As<T, float>()).As<float, T>() : Vector512.Log(a.As<T, double>()).As<double, T>();
    /// <summary>tanh x = sign(x) (1 - e) / (1 + e), e = exp(-2|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Tanh<T>(Vector512<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = Exp(Vector512.Create(T.CreateTruncating(-2)) * Vector512.Abs(a)) - Vector512<T>.One;
        var sign = a & Vector512.Create(T.NegativeZero);
        return sign ^ (-z / (z + Vector512.Create(T.CreateTruncating(2))));
    }
    /// <summary>sigmoid x = 1 / (1 + exp(-x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sigmoid<T>(Vector512<T> a) where T : unmanaged => Vector512<T>.One / (Vector512<T>.One + Exp(-a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Greater<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.GreaterThan(a, b), Vector512<T>.One, Vector512<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Less<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.LessThan(a, b), Vector512<T>.One, Vector512<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> GreaterEqual<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, b), Vector512<T>.One, Vector512<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LessEqual<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(a, b), Vector512<T>.One, Vector512<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Equal<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.Equals(a, b), Vector512<T>.One, Vector512<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> NotEqual<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.Equals(a, b), Vector512<T>.Zero, Vector512<T>.One);
    /// <summary>Where(c, a, b): a where c is not zero (NaN counts as true, as in the scalar code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Where<T>(Vector512<T> c, Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.Equals(c, Vector512<T>.Zero), b, a);
    /// <summary>The larger of a and b per lane (NaN if either is NaN, +0 above -0: as Math.Max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.Max(a, b);
    /// <summary>The smaller of a and b per lane (NaN if either is NaN, -0 below +0: as Math.Min).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Min<T>(Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sin<T>(Vector512<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Sin(a.As<T, float>()).As<float, T>() : Vector512.Sin(a.As<T, double>()).As<double, T>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Cos<T>(Vector512<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Cos(a.As<T, float>()).As<float, T>() : Vector512.Cos(a.As<T, double>()).As<double, T>();
    /// <summary>-1, 0 or 1 per lane; ±0 and NaN are kept (as the eager kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sign<T>(Vector512<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(a, Vector512<T>.Zero), Vector512<T>.One,
            Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512<T>.Zero), Vector512.Create(T.NegativeOne), a));
    /// <summary>A scalar function applied lane by lane: the vector form of a primitive with no vector arithmetic of its
    /// own (it keeps the loop fused and gives exactly the eager kernel's values).</summary>
    public static Vector512<T> Map1<T>(Vector512<T> a, Func<T, T> f) where T : unmanaged
    {
        Span<T> r = stackalloc T[Vector512<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = f(a.GetElement(i));
        return Vector512.Create((ReadOnlySpan<T>)r);
    }
    /// <summary>A scalar function of two operands applied lane by lane (see <see cref="Map1"/>).</summary>
    public static Vector512<T> Map2<T>(Vector512<T> a, Vector512<T> b, Func<T, T, T> f) where T : unmanaged
    {
        Span<T> r = stackalloc T[Vector512<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = f(a.GetElement(i), b.GetElement(i));
        return Vector512.Create((ReadOnlySpan<T>)r);
    }
}

/// <summary>
/// The vector code of fused elementwise loops (<see cref="Fusion"/>), Vector256 lanes: one method per operation,
/// called from the generated loop and inlined by the JIT. Exp and Log are .NET's vectorised ones (the same code
/// TensorPrimitives runs, so fused and eager results agree); tanh and sigmoid are built from exp as TensorPrimitives
/// builds them.
/// </summary>
internal static class Vec256Ops
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load<T>(T[] a, int i) where T : unmanaged => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector256<T> v, T[] a, int i) where T : unmanaged => v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Splat<T>(T x) where T : unmanaged => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sub<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Mul<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Div<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Neg<T>(Vector256<T> a) where T : unmanaged => -a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Id<T>(Vector256<T> a) where T : unmanaged => a;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Abs<T>(Vector256<T> a) where T : unmanaged => Vector256.Abs(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sqrt<T>(Vector256<T> a) where T : unmanaged => Vector256.Sqrt(a);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp<T>(Vector256<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Exp(a.As<T, float>()).As<float, T>() : Vector256.Exp(a.As<T, double>()).As<double, T>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Log<T>(Vector256<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Log(a.As<T, float>()).As<float, T>() : Vector256.Log(a.As<T, double>()).As<double, T>();
    /// <summary>tanh x = sign(x) (1 - e) / (1 + e), e = exp(-2|x|).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Tanh<T>(Vector256<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var z = Exp(Vector256.Create(T.CreateTruncating(-2)) * Vector256.Abs(a)) - Vector256<T>.One;
        var sign = a & Vector256.Create(T.NegativeZero);
        return sign ^ (-z / (z + Vector256.Create(T.CreateTruncating(2))));
    }
    /// <summary>sigmoid x = 1 / (1 + exp(-x)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sigmoid<T>(Vector256<T> a) where T : unmanaged => Vector256<T>.One / (Vector256<T>.One + Exp(-a));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Greater<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.GreaterThan(a, b), Vector256<T>.One, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Less<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.LessThan(a, b), Vector256<T>.One, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> GreaterEqual<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, b), Vector256<T>.One, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LessEqual<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(a, b), Vector256<T>.One, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Equal<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.Equals(a, b), Vector256<T>.One, Vector256<T>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> NotEqual<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.Equals(a, b), Vector256<T>.Zero, Vector256<T>.One);
    /// <summary>Where(c, a, b): a where c is not zero (NaN counts as true, as in the scalar code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Where<T>(Vector256<T> c, Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.Equals(c, Vector256<T>.Zero), b, a);
    /// <summary>The larger of a and b per lane (NaN if either is NaN, +0 above -0: as Math.Max).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.Max(a, b);
    /// <summary>The smaller of a and b per lane (NaN if either is NaN, -0 below +0: as Math.Min).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Min<T>(Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.Min(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sin<T>(Vector256<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Sin(a.As<T, float>()).As<float, T>() : Vector256.Sin(a.As<T, double>()).As<double, T>();
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Cos<T>(Vector256<T> a) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Cos(a.As<T, float>()).As<float, T>() : Vector256.Cos(a.As<T, double>()).As<double, T>();
    /// <summary>-1, 0 or 1 per lane; ±0 and NaN are kept (as the eager kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sign<T>(Vector256<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(a, Vector256<T>.Zero), Vector256<T>.One,
            Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256<T>.Zero), Vector256.Create(T.NegativeOne), a));
    /// <summary>A scalar function applied lane by lane: the vector form of a primitive with no vector arithmetic of its
    /// own (it keeps the loop fused and gives exactly the eager kernel's values).</summary>
    public static Vector256<T> Map1<T>(Vector256<T> a, Func<T, T> f) where T : unmanaged
    {
        Span<T> r = stackalloc T[Vector256<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = f(a.GetElement(i));
        return Vector256.Create((ReadOnlySpan<T>)r);
    }
    /// <summary>A scalar function of two operands applied lane by lane (see <see cref="Map1"/>).</summary>
    public static Vector256<T> Map2<T>(Vector256<T> a, Vector256<T> b, Func<T, T, T> f) where T : unmanaged
    {
        Span<T> r = stackalloc T[Vector256<T>.Count];
        for (int i = 0; i < r.Length; i++) r[i] = f(a.GetElement(i), b.GetElement(i));
        return Vector256.Create((ReadOnlySpan<T>)r);
    }
}
