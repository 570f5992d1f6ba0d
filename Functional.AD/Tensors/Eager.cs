using System.Numerics;

namespace Functional.AD;

/// <summary>Shared plumbing of the eager operations: typed data access, dtype dispatch, axis checks.</summary>
internal static class Eager
{
    /// <summary>x's elements as <typeparamref name="T"/>, converting when x's dtype differs (a weak scalar promoted to float64 uses its exact value).</summary>
    internal static ReadOnlySpan<T> Data<T>(Tensor x) where T : unmanaged
    {
        var want = DTypes.Of<T>();
        if (x.DType == want) return x.Span<T>();
        if (typeof(T) == typeof(double) && x.ExactScalar is double v) return (T[])(object)new[] { v };
        return (T[])Elements.Convert(x.HostArray(), x.DType, want);
    }

    /// <summary>x converted to <paramref name="dtype"/> (the same tensor when it already has it), keeping its weak flag.</summary>
    internal static Tensor To(Tensor x, DType dtype)
    {
        if (x.DType == dtype) return x;
        if (x.ExactScalar is double e && DTypes.IsFloat(dtype)) return dtype == DType.Float32 ? x : Tensor.Scalar(e, dtype, weak: true);
        var data = Elements.Convert(x.HostArray(), x.DType, dtype);
        return Tensor.Adopt(data, Aval.Intern(x.Dims, dtype, x.IsWeak));
    }

    /// <summary>
    /// Runs <paramref name="f"/> on the float32 forms of <paramref name="xs"/> and rounds its result to the half-precision
    /// <paramref name="dtype"/>: how the CPU computes float16 and bfloat16 (one rounding per operation).
    /// </summary>
    internal static Tensor ViaFloat32(DType dtype, Func<Tensor[], Tensor> f, params Tensor[] xs)
    {
        var ys = new Tensor[xs.Length];
        for (int i = 0; i < xs.Length; i++) ys[i] = DTypes.IsHalf(xs[i].DType) ? To(xs[i], DType.Float32) : xs[i];
        var r = f(ys);
        return r.DType == DType.Float32 ? To(r, dtype) : r;
    }

    /// <summary>Whether the generic float kernels (float32, float64) run this dtype directly.</summary>
    internal static bool IsWide(DType d) => d is DType.Float32 or DType.Float64;

    /// <summary>
    /// Runs a float kernel on a tensor of another dtype: halves in float32, integers and bools in float64 (exact for
    /// int32 and bool, and for int64 up to 2^53), the result converted back to <paramref name="dtype"/>.
    /// </summary>
    internal static Tensor ViaWide(DType dtype, Func<Tensor[], Tensor> f, params Tensor[] xs)
    {
        var wide = DTypes.IsHalf(dtype) ? DType.Float32 : DType.Float64;
        var ys = new Tensor[xs.Length];
        for (int i = 0; i < xs.Length; i++) ys[i] = xs[i].DType == dtype ? To(xs[i], wide) : xs[i];
        var r = f(ys);
        return r.DType == wide ? To(r, dtype) : r;
    }

    /// <summary>
    /// The operand of a float-only operation (exp, log, tanh, ...): an integer or bool tensor is promoted to float32, as
    /// jax.numpy does; a float tensor is returned as is.
    /// </summary>
    internal static Tensor FloatOperand(Tensor x) => DTypes.IsFloat(x.DType) ? x : To(x, DType.Float32);

    /// <summary>Throws unless the (promoted) dtype of an arithmetic operation is a number: arithmetic on bools is refused.</summary>
    internal static void CheckNumber(DType dt, string op, params Tensor[] xs)
    {
        if (dt == DType.Bool)
            throw new ShapeException(op, xs.Select(x => x.Aval).ToArray(),
                "arithmetic on bool tensors is not defined; use Np.LogicalAnd / Np.LogicalOr / Np.LogicalNot, or convert with AsType(DType.Int32) or AsType(DType.Float32)");
    }

    /// <summary>A bool mask from a condition tensor: bool as is; a number is true where non-zero (NaN included).</summary>
    internal static ReadOnlySpan<bool> Mask(Tensor c) =>
        c.DType == DType.Bool ? c.Span<bool>() : (bool[])Elements.Convert(c.HostArray(), c.DType, DType.Bool);

    internal static Tensor Make<T>(T[] data, int[] dims, bool weak = false) where T : unmanaged => Tensor.Adopt(data, dims, weak);

    /// <summary>
    /// The eager kernel of an elementwise primitive declared by its scalar functions (<see cref="Primitive.F64"/>,
    /// <see cref="Primitive.F32"/>): the function applied to every element. A weak scalar (a C# double) stays exact and weak.
    /// </summary>
    internal static Tensor Map(Primitive p, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var f64 = p.F64 ?? throw new InvalidOperationException($"Internal error: {p.Name} has no scalar function.");
        if (x.ExactScalar is double exact) return new Tensor(f64(exact));
        if (DTypes.IsHalf(x.DType)) return ViaFloat32(x.DType, a => Map(p, a[0]), x);
        if (!DTypes.IsFloat(x.DType)) x = FloatOperand(x);
        if (x.DType == DType.Float64)
        {
            var src = x.Span<double>();
            var d = GC.AllocateUninitializedArray<double>(src.Length);
            for (int i = 0; i < d.Length; i++) d[i] = f64(src[i]);
            return Make(d, x.Dims, x.IsWeak);
        }
        var f32 = p.F32!;
        var s = x.Span<float>();
        var r = GC.AllocateUninitializedArray<float>(s.Length);
        for (int i = 0; i < r.Length; i++) r[i] = f32(s[i]);
        return Make(r, x.Dims, x.IsWeak);
    }

    /// <summary>A fresh tensor of shape <paramref name="dims"/> filled with <paramref name="value"/>.</summary>
    internal static Tensor Fill(int[] dims, double value, DType dtype, bool weak = false)
    {
        DTypes.Check(dtype, "Np.Full");
        int n = Kernels.Product(dims);
        return Tensor.Adopt(Elements.Filled(dtype, n, value), Aval.Intern(dims, dtype, weak));
    }

    /// <summary>
    /// <paramref name="axis"/> (negative counts from the end) as an index into <paramref name="rank"/> axes; false when
    /// it is out of range. For hot paths that build the message arguments of the throwing overload only on failure.
    /// </summary>
    internal static bool TryAxis(int axis, int rank, out int a)
    {
        a = axis < 0 ? axis + rank : axis;
        return (uint)a < (uint)rank;
    }

    /// <summary>Normalises a possibly negative axis of a rank-<paramref name="rank"/> tensor, or throws a <see cref="ShapeException"/> naming the call.</summary>
    internal static int Axis(int axis, int rank, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        if (!TryAxis(axis, rank, out int a))
        {
            string accepted = rank == 0 ? "a rank-0 tensor has no axes (use axis: null)" : $"accepted axes are {-rank} .. {rank - 1}";
            throw new ShapeException(call(), shapes, $"axis {axis} is out of range for rank {rank}; {accepted}");
        }
        return a;
    }

    internal static string Dims(int[] d) => $"[{string.Join(",", d)}]";

    internal static int[] Remove(int[] d, int axis)
    {
        var r = new int[d.Length - 1];
        for (int i = 0, j = 0; i < d.Length; i++) if (i != axis) r[j++] = d[i];
        return r;
    }

    internal static int[] Insert(int[] d, int axis, int size)
    {
        var r = new int[d.Length + 1];
        for (int i = 0, j = 0; i < r.Length; i++) r[i] = i == axis ? size : d[j++];
        return r;
    }

    /// <summary>Integral index values of a tensor, wrapped like numpy against an axis of size <paramref name="n"/>.</summary>
    internal static int[] Indices(Tensor indices, int n, string op, Aval x, int axis)
    {
        if (indices.DType == DType.Bool) throw IndexMoves.MaskRefused(op, [x, indices.Aval]);
        var v = indices.ToDoubleArray();
        var r = new int[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            double d = v[i];
            if (double.IsNaN(d) || d != Math.Floor(d))
                throw new ArgumentException($"{op}: indices must hold integral values; found {d} (indices: {indices.Aval})", nameof(indices));
            if (d < -n || d >= n)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: index {d} is out of range for axis {axis} of size {n} (x: {x}); accepted indices are {-n} .. {n - 1}");
            int k = (int)d;
            r[i] = k < 0 ? k + n : k;
        }
        return r;
    }
}
