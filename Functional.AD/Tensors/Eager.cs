using System.Numerics;

namespace Functional.AD;

/// <summary>Shared plumbing of the eager operations: typed data access, dtype dispatch, axis checks.</summary>
internal static class Eager
{
    /// <summary>x's elements as <typeparamref name="T"/>, converting when x's dtype differs (a weak scalar promoted to float64 uses its exact value).</summary>
    internal static ReadOnlySpan<T> Data<T>(Tensor x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double))
        {
            if (x.DType == DType.Float64) return x.Span<T>();
            if (x.ExactScalar is double v) return new[] { T.CreateChecked(v) };
            return Kernels.Convert<float, T>(x.Span<float>());
        }
        if (x.DType == DType.Float32) return x.Span<T>();
        return Kernels.Convert<double, T>(x.Span<double>());
    }

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
        if (dtype is not (DType.Float32 or DType.Float64))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"dtype must be DType.Float32 or DType.Float64, not {(int)dtype}");
        int n = Kernels.Product(dims);
        if (dtype == DType.Float64)
        {
            var d = new double[n];
            if (value != 0) d.AsSpan().Fill(value);
            return Tensor.Adopt(d, dims, weak);
        }
        var f = new float[n];
        if (value != 0) f.AsSpan().Fill((float)value);
        return Tensor.Adopt(f, dims, weak);
    }

    /// <summary>Normalises a possibly negative axis of a rank-<paramref name="rank"/> tensor, or throws a <see cref="ShapeException"/> naming the call.</summary>
    internal static int Axis(int axis, int rank, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)rank)
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
