namespace Functional.AD;

/// <summary>
/// Diagonals: <c>Diag(x, k)</c> (numpy's diag: a vector to the matrix with it on diagonal k, a matrix to its diagonal k)
/// and its transpose <c>DiagTranspose(g, aval, k)</c>, each the other's transpose, both linear. Which of the two moves a
/// node makes depends on its operand's rank, known once shapes are: the eager kernels and the Torch lowering read it, and
/// the batching rule writes a batched node (a stack of vectors or matrices) with AxisGather and Reshape over the flattened
/// matrix, where diagonal k is every (n + 1)-th element from a start. Made by <see cref="DeclareDiagonals"/>.
/// </summary>
internal static partial class Prims
{
    /// <summary>numpy's diag (vector to matrix, matrix to diagonal).</summary>
    public static Primitive Diag { get { if (diag is null) Vocabulary.Ensure(); return diag!; } private set => diag = value; }
    static Primitive? diag;
    /// <summary>The transpose of <see cref="Diag"/>, shaped like its aval operand.</summary>
    public static Primitive DiagTranspose { get { if (diagTranspose is null) Vocabulary.Ensure(); return diagTranspose!; } private set => diagTranspose = value; }
    static Primitive? diagTranspose;

    static void DeclareDiagonals()
    {
        Diag = Structural("Diag", Np_("Diag", T, IntT),
            (c, t) => Ap(Diag!, [t[0]!], c.P),
            (c, ct) => [Ap(DiagTranspose!, [ct, c.Aval(0)], c.P)], [0], DiagBatch);
        DiagTranspose = Structural("DiagTranspose", Lax_("DiagTranspose", T, A, IntT),
            (c, t) => Ap(DiagTranspose!, [t[0]!, c.X[1]], c.P),
            (c, ct) => [Ap(Diag!, [ct], c.P), null], [0], DiagBatch, likeAval: 1);
    }

    static Node Gather(Unbatcher u, Node x, int before, int after) =>
        u.Apply(AxisGather, [x], new Params((object)new[] { new AxisMap(AxisMapKind.PadConstant, -1, before, after) }));

    /// <summary>The start of diagonal k in the flattened m × n matrix (each next element n + 1 further).</summary>
    static int DiagStart(int n, int k) => k >= 0 ? k : -k * n;

    /// <summary>Vectors [..b, L] onto diagonal k of zero matrices [..b, m, n]: each element followed by n zeros, then shifted to the diagonal's start.</summary>
    static Node EmbedDiagonal(Unbatcher u, Node v, int[] b, int l, int m, int n, int k)
    {
        int s = DiagStart(n, k);
        var rows = Gather(u, u.Reshape(v, [.. b, l, 1]), 0, n);
        var flat = Gather(u, u.Reshape(rows, [.. b, l * (n + 1)]), s, m * n - s - l * (n + 1));
        return u.Reshape(flat, [.. b, m, n]);
    }

    /// <summary>Diagonal k of matrices [..b, m, n] as vectors [..b, L]: the flattened matrix from the diagonal's start, read in rows of n + 1, first column.</summary>
    static Node ExtractDiagonal(Unbatcher u, Node x, int[] b, int m, int n, int k)
    {
        int l = Np.DiagonalOf(m, n, k).L, s = DiagStart(n, k);
        var flat = Gather(u, u.Reshape(x, [.. b, m * n]), -s, l * (n + 1) - (m * n - s));
        var first = Gather(u, u.Reshape(flat, [.. b, l, n + 1]), 0, -n);
        return u.Reshape(first, [.. b, l]);
    }

    /// <summary>Vmap of Diag and DiagTranspose: the operand's (for DiagTranspose, the aval's) core rank says which move; the moves over the trailing axes are AxisGathers and Reshapes.</summary>
    static Node DiagBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int d = prm.Get<int>(0);
        var (b, c) = BatchRules.Split(u.Dims(a[0]), k);
        var core = p == Diag ? c : BatchRules.Split(u.Dims(a[1]), k).Core;
        string Call() => $"{(p == Diag ? "Np.Diag" : "Lax.DiagTranspose")} (batched, {k} batch axes): {u.A(a[0])}";
        bool embed = p == Diag ? core.Length == 1 : core.Length == 2;
        if (core.Length is not (1 or 2)) throw new ShapeException(Call(), [u.A(a[0])], "the operand must be a vector or a matrix");
        if (embed)
        {
            // Diag of a vector (square result), or DiagTranspose onto a matrix of the aval's shape
            int l = c[0];
            var (m, n) = p == Diag ? (l + Math.Abs(d), l + Math.Abs(d)) : (core[0], core[1]);
            return EmbedDiagonal(u, a[0], b, l, m, n, d);
        }
        return ExtractDiagonal(u, a[0], b, c[0], c[1], d);
    }
}
