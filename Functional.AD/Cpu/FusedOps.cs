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
    /// <summary>Where(c, a, b): a where c is not zero (NaN counts as true, as in the scalar code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Where<T>(Vector512<T> c, Vector512<T> a, Vector512<T> b) where T : unmanaged => Vector512.ConditionalSelect(Vector512.Equals(c, Vector512<T>.Zero), b, a);
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
    /// <summary>Where(c, a, b): a where c is not zero (NaN counts as true, as in the scalar code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Where<T>(Vector256<T> c, Vector256<T> a, Vector256<T> b) where T : unmanaged => Vector256.ConditionalSelect(Vector256.Equals(c, Vector256<T>.Zero), b, a);
}
