using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD.Testing.Programs;

/// <summary>A small record pytree that random programs take as their first argument: two tensors and a double.</summary>
/// <param name="A">A tensor leaf.</param>
/// <param name="B">A tensor leaf.</param>
/// <param name="C">A double leaf.</param>
/// <example><code>
/// var p = new FuzzParams(Np.Ones([2]), Np.Zeros([2, 2]), 0.5);   // a random program's record argument
/// </code></example>
public sealed record FuzzParams(Tensor A, Tensor B, double C);

/// <summary>The container a random program's first (differentiated) argument comes in.</summary>
/// <example><code>
/// var program = ProgramGen.FromSeed(3);
/// Console.WriteLine(program.Layout.Kind);          // Single, Tuple or Record
/// </code></example>
public enum ArgKind
{
    /// <summary>One <see cref="Tensor"/>.</summary>
    Tensor,
    /// <summary><c>(Tensor, Tensor)</c>.</summary>
    Pair,
    /// <summary><c>(Tensor, Tensor, double)</c>.</summary>
    Triple,
    /// <summary><see cref="FuzzParams"/>.</summary>
    Record,
}

/// <summary>
/// The arguments of a random program: a first argument <c>x</c> (a pytree whose leaves are differentiated) and, optionally,
/// a second tensor <c>y</c> that is held fixed. Leaves are numbered: those of <c>x</c> first, then <c>y</c>.
/// </summary>
/// <example><code>
/// var layout = ProgramGen.FromSeed(2).Layout;
/// Console.WriteLine($"{layout.XTypeName}: {layout.XLeaves} differentiated leaves");
/// </code></example>
public sealed class ArgLayout
{
    /// <summary>The container of the first argument.</summary>
    public ArgKind Kind { get; }
    /// <summary>Shapes of the leaves of <c>x</c> (null for a double leaf), then of <c>y</c> when there is one.</summary>
    public IReadOnlyList<int[]?> Leaves { get; }
    /// <summary>Number of leaves of <c>x</c> (the differentiated ones).</summary>
    public int XLeaves { get; }
    /// <summary>True when the program takes a second, fixed tensor <c>y</c>.</summary>
    public bool HasFixed => Leaves.Count > XLeaves;
    /// <summary>The CLR type of <c>x</c>.</summary>
    public Type XType => Kind switch
    {
        ArgKind.Tensor => typeof(Tensor),
        ArgKind.Pair => typeof(ValueTuple<Tensor, Tensor>),
        ArgKind.Triple => typeof(ValueTuple<Tensor, Tensor, double>),
        _ => typeof(FuzzParams),
    };

    internal ArgLayout(ArgKind kind, int[][] tensorShapes, int[]? fixedShape)
    {
        Kind = kind;
        var leaves = new List<int[]?>();
        int nt = kind switch { ArgKind.Tensor => 1, _ => 2 };
        for (int i = 0; i < nt; i++) leaves.Add(tensorShapes[i]);
        if (kind is ArgKind.Triple or ArgKind.Record) leaves.Add(null);
        XLeaves = leaves.Count;
        if (fixedShape is not null) leaves.Add(fixedShape);
        Leaves = leaves;
    }

    string Member(int i) => Kind == ArgKind.Record ? "ABC"[i].ToString() : "Item" + (i + 1);

    internal Expression Leaf(ParameterExpression x, ParameterExpression? y, int i) =>
        i >= XLeaves ? y! : Kind == ArgKind.Tensor ? x : Expression.PropertyOrField(x, Member(i));

    internal string LeafName(int i) => i >= XLeaves ? "y" : Kind == ArgKind.Tensor ? "x" : "x." + Member(i);

    /// <summary>The leaves of <c>x</c> (tensors and boxed doubles) packed into its container.</summary>
    public object Pack(object[] leaves) => Kind switch
    {
        ArgKind.Tensor => leaves[0],
        ArgKind.Pair => (ValueTuple<Tensor, Tensor>)((Tensor)leaves[0], (Tensor)leaves[1]),
        ArgKind.Triple => (ValueTuple<Tensor, Tensor, double>)((Tensor)leaves[0], (Tensor)leaves[1], (double)leaves[2]),
        _ => new FuzzParams((Tensor)leaves[0], (Tensor)leaves[1], (double)leaves[2]),
    };

    /// <summary>The leaves of a value of <c>x</c>'s type.</summary>
    public object[] Unpack(object x) => x switch
    {
        Tensor t => [t],
        ValueTuple<Tensor, Tensor> p => [p.Item1, p.Item2],
        ValueTuple<Tensor, Tensor, double> p => [p.Item1, p.Item2, p.Item3],
        FuzzParams r => [r.A, r.B, r.C],
        _ => throw new ArgumentException($"not a value of {Printer.TypeName(XType)}: {x}"),
    };

    /// <summary>The leaves of a value of <c>x</c>'s type as one float64 vector (tensors row-major, then doubles, in leaf order).</summary>
    public double[] Flatten(object x) =>
        Unpack(x).SelectMany(l => l is Tensor t ? t.AsType(DType.Float64).ToDoubleArray() : [(double)l]).ToArray();

    /// <summary>A value of <c>x</c>'s type from a float64 vector laid out as <see cref="Flatten"/> does.</summary>
    public object Unflatten(double[] flat)
    {
        var leaves = new object[XLeaves];
        int pos = 0;
        for (int i = 0; i < XLeaves; i++)
        {
            if (Leaves[i] is { } s)
            {
                int n = s.Aggregate(1, (a, b) => a * b);
                leaves[i] = new Tensor(flat.AsSpan(pos, n).ToArray(), s);
                pos += n;
            }
            else leaves[i] = flat[pos++];
        }
        return Pack(leaves);
    }

    /// <summary>The C# type of <c>x</c> as written in source.</summary>
    public string XTypeName => Kind switch
    {
        ArgKind.Tensor => "Tensor",
        ArgKind.Pair => "(Tensor, Tensor)",
        ArgKind.Triple => "(Tensor, Tensor, double)",
        _ => "FuzzParams",
    };

    /// <summary>A value of <c>x</c> as C# source.</summary>
    internal string Show(object x) => Kind switch
    {
        ArgKind.Tensor => ShowLeaf(x),
        ArgKind.Record => "new FuzzParams(" + string.Join(", ", Unpack(x).Select(ShowLeaf)) + ")",
        _ => (Kind == ArgKind.Pair ? "(" : "((Tensor, Tensor, double))(") + string.Join(", ", Unpack(x).Select(ShowLeaf)) + ")",
    };

    internal static string ShowLeaf(object leaf) => leaf switch
    {
        Tensor t => $"new Tensor(new[] {{ {string.Join(", ", t.ToDoubleArray().Select(Term.Num))} }}, {Term.IntArray(t.Shape.ToArray())})",
        double d => Term.Num(d),
        _ => leaf.ToString() ?? "?",
    };

    internal static MethodInfo TupleMethod { get; } = typeof(Np).GetMethods().Single(m => m.Name == nameof(Np.Tuple) && m.GetGenericArguments().Length == 2);
}
