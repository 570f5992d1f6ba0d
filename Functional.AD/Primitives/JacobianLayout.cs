namespace Functional.AD;

/// <summary>
/// Eager kernels of the layout primitives behind <c>Ad.Jacfwd</c> and <c>Ad.Jacrev</c>. A Jacobian of
/// <c>f: [s] -&gt; [o]</c> has shape <c>o ++ s</c>. Forward mode produces it as rows <c>[n, o...]</c> (one JVP per basis
/// tangent, n = size of s); reverse mode as rows <c>[m, s...]</c> (one VJP per basis cotangent, m = size of o).
/// Every kernel takes <c>k</c> leading batch axes (see <c>Ad.Vmap</c>) that it leaves in front.
/// </summary>
/// <example><code>
/// var x = Np.Ones([2, 3]);
/// var basis = JacobianLayout.Basis(x);           // the 6 unit tangents of x, stacked: [6, 2, 3]
/// </code></example>
public static class JacobianLayout
{
    static int Size(IEnumerable<int> dims) => dims.Aggregate(1, (a, b) => a * b);

    /// <summary>The standard basis of x's shape: <c>[B.., n, s...]</c>, one-hot along the flattened core (the same for every batch element).</summary>
    public static Tensor Basis(Tensor x, int k = 0)
    {
        var s = x.Shape.Skip(k).ToArray();
        int n = Size(s);
        var eye = new double[n * n];
        for (int i = 0; i < n; i++) eye[i * n + i] = 1;
        var basis = new Tensor(eye, [n, .. s]).AsType(x.DType);
        return k == 0 ? basis : Np.BroadcastTo(basis, [.. x.Shape.Take(k), n, .. s]);
    }

    /// <summary>Forward-mode rows <c>[B.., n, o...]</c> to the Jacobian <c>[B.., o..., s...]</c> (s from x).</summary>
    public static Tensor FromRows(Tensor rows, Tensor x, int k = 0)
    {
        var r = rows.Shape.ToArray();
        int rank = r.Length;
        var batch = r.Take(k).ToArray();
        var o = r.Skip(k + 1).ToArray();
        var s = x.Shape.Skip(k).ToArray();
        if (r[k] != Size(s)) throw new ShapeException($"JacobianLayout.FromRows(rows: {rows.Aval}, x: {x.Aval})", [rows.Aval, x.Aval], "the number of rows must be the size of x");
        // [B, n, o] -> [B, o, n] -> [B, o, s]
        var perm = Enumerable.Range(0, k).Concat(Enumerable.Range(k + 1, o.Length)).Append(k).ToArray();
        return Np.Reshape(Np.Transpose(rows, perm), [.. batch, .. o, .. s]);
    }

    /// <summary>The transpose of <see cref="FromRows"/>: <c>[B.., o..., s...]</c> back to rows <c>[B.., n, o...]</c>.</summary>
    public static Tensor ToRows(Tensor jac, Tensor x, int k = 0)
    {
        var s = x.Shape.Skip(k).ToArray();
        var j = jac.Shape.ToArray();
        var batch = j.Take(k).ToArray();
        var o = j.Skip(k).Take(j.Length - k - s.Length).ToArray();
        var flat = Np.Reshape(jac, [.. batch, .. o, Size(s)]);
        var perm = Enumerable.Range(0, k).Append(k + o.Length).Concat(Enumerable.Range(k, o.Length)).ToArray();
        return Np.Transpose(flat, perm);
    }

    /// <summary>Reverse-mode rows <c>[B.., m, s...]</c> to the Jacobian <c>[B.., o..., s...]</c> (o from y).</summary>
    public static Tensor FromColumns(Tensor rows, Tensor y, int k = 0)
    {
        var r = rows.Shape.ToArray();
        var o = y.Shape.Skip(k).ToArray();
        if (r[k] != Size(o)) throw new ShapeException($"JacobianLayout.FromColumns(rows: {rows.Aval}, y: {y.Aval})", [rows.Aval, y.Aval], "the number of rows must be the size of y");
        return Np.Reshape(rows, [.. r.Take(k), .. o, .. r.Skip(k + 1)]);
    }

    /// <summary>The transpose of <see cref="FromColumns"/>.</summary>
    public static Tensor ToColumns(Tensor jac, Tensor y, int k = 0)
    {
        var j = jac.Shape.ToArray();
        var o = y.Shape.Skip(k).ToArray();
        return Np.Reshape(jac, [.. j.Take(k), Size(o), .. j.Skip(k + o.Length)]);
    }
}
