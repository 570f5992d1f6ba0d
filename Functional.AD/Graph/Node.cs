using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>The static type of a value in the IR: what C# type it has when written back as an expression.</summary>
internal enum Kind
{
    /// <summary>A <see cref="Functional.AD.Tensor"/>.</summary>
    Tensor,
    /// <summary>A <see cref="double"/> scalar (System.Math code).</summary>
    Double,
    /// <summary>A <see cref="float"/> scalar (System.MathF code).</summary>
    Float,
    /// <summary>A <see cref="bool"/> (a condition).</summary>
    Bool,
    /// <summary>An <see cref="Functional.AD.Aval"/>: the shape and dtype of a value, used by shape-polymorphic rules.</summary>
    Aval,
    /// <summary>A static, non-differentiable value (int, string, ...), passed through unchanged.</summary>
    Static,
    /// <summary>
    /// The several results of one node (a loop's carries and stacked outputs), computed once and read by index with
    /// <c>Proj</c>; at run time an <c>object[]</c> of the boxed results (see <see cref="Tuples"/>).
    /// </summary>
    Tuple,
}

internal static class Kinds
{
    public static Type ClrType(this Kind k, Type? staticType = null) => k switch
    {
        Kind.Tensor => typeof(Tensor),
        Kind.Double => typeof(double),
        Kind.Float => typeof(float),
        Kind.Bool => typeof(bool),
        Kind.Aval => typeof(Aval),
        Kind.Tuple => typeof(object[]),
        _ => staticType ?? typeof(object),
    };

    public static bool IsFloating(this Kind k) => k is Kind.Tensor or Kind.Double or Kind.Float;

    public static Kind? Of(Type t) =>
        t == typeof(Tensor) ? Kind.Tensor :
        t == typeof(double) ? Kind.Double :
        t == typeof(float) ? Kind.Float :
        t == typeof(bool) ? Kind.Bool :
        t == typeof(Aval) ? Kind.Aval : null;
}

/// <summary>Static parameters of a primitive application (axes, shapes, flags): compared structurally for CSE.</summary>
internal sealed class Params : IEquatable<Params>
{
    public static readonly Params None = new([]);
    public readonly object?[] Values;
    public Params(params object?[] values) => Values = values;
    public int Count => Values.Length;
    public object? this[int i] => Values[i];
    public T Get<T>(int i) => (T)Values[i]!;

    public bool Equals(Params? other)
    {
        if (other is null || other.Values.Length != Values.Length) return false;
        for (int i = 0; i < Values.Length; i++)
            if (!ValueEquals(Values[i], other.Values[i])) return false;
        return true;
    }

    static bool ValueEquals(object? a, object? b)
    {
        if (a is Array x && b is Array y)
        {
            if (x.Length != y.Length || x.GetType() != y.GetType()) return false;
            for (int i = 0; i < x.Length; i++) if (!Equals(x.GetValue(i), y.GetValue(i))) return false;
            return true;
        }
        return Equals(a, b);
    }

    public override bool Equals(object? obj) => obj is Params p && Equals(p);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var v in Values)
        {
            if (v is Array a) foreach (var e in a) h.Add(e);
            else h.Add(v);
        }
        return h.ToHashCode();
    }
}

/// <summary>
/// One value of the IR, in A-normal form: a primitive applied to earlier nodes. Inputs and constants are nodes
/// too. A <see cref="Builder"/> owns the nodes it made. Everything that defines a node (its operation, operands,
/// parameters, sub-graphs, kind, value, name, shape class and batch count) is fixed when it is made. Two annotations,
/// <see cref="Source"/> and <see cref="Witness"/>, start empty and may be set once afterwards (<c>n.Source ??= s</c>),
/// by the reader or by a transformation that knows them; setting either to another value once it is set throws. Neither takes part in
/// hash-consing, and no result depends on them: Source only names the subexpression in error messages, and Witness
/// only saves the transpose an <c>InferAval</c> for a shape it already has.
/// </summary>
internal sealed class Node
{
    static int nextId;
    public readonly int Id = Interlocked.Increment(ref nextId);
    public readonly Builder Owner;
    public readonly Primitive Op;
    public readonly Node[] Args;
    public readonly Params Params;
    public readonly Graph[] Subgraphs;
    public readonly Kind Kind;
    /// <summary>The value of a constant, or the CLR type of a static input.</summary>
    public readonly object? Value;
    /// <summary>A display name (inputs).</summary>
    public readonly string? Name;
    /// <summary>
    /// Symbolic shape class: two tensor nodes with the same class have the same shape and dtype for every input
    /// (elementwise chains keep their operand's class). For an Aval node, the class of the value it describes.
    /// -1 marks a weak scalar (it never changes the shape or dtype of what it is combined with).
    /// </summary>
    public readonly int Cls;
    /// <summary>
    /// Number of leading batch axes of this node's Tensor and Aval operands and of its result (0: unbatched). The
    /// primitive applies to the remaining core axes (DESIGN.md, "Ranks without tracing"); see <c>Vmapped</c>.
    /// </summary>
    public readonly int Batch;

    /// <summary>For a tangent node: a primal node of the same shape (set by JVP), used by transposition for shapes. Set at most once.</summary>
    public Node? Witness
    {
        get => witness;
        set => witness = SetOnce(witness, value, nameof(Witness));
    }
    Node? witness;

    /// <summary>The user's subexpression this node was read from (kept through transformations), for error messages. Set at most once.</summary>
    public System.Linq.Expressions.Expression? Source
    {
        get => source;
        set => source = SetOnce(source, value, nameof(Source));
    }
    System.Linq.Expressions.Expression? source;

    /// <summary>Makes a node; <paramref name="cls"/> is its shape class (see <see cref="Cls"/>), <c>null</c> for a class of its own (its <see cref="Id"/>).</summary>
    public Node(Builder owner, Primitive op, Node[] args, Params prms, Graph[] subs, Kind kind, object? value = null,
                string? name = null, int? cls = null, int batch = 0)
    {
        Owner = owner; Op = op; Args = args; Params = prms; Subgraphs = subs; Kind = kind; Value = value;
        Name = name; Cls = cls ?? Id; Batch = batch;
    }

    T? SetOnce<T>(T? current, T? value, string what) where T : class =>
        current is null || ReferenceEquals(current, value) ? value ?? current
            : throw new InvalidOperationException($"Internal error: the {what} of node {this} is set already.");

    public bool IsConst => Op.Leaf == LeafKind.Const;
    public bool IsInput => Op.Leaf == LeafKind.Input;
    public override string ToString() => $"%{Id}:{Op.Name}";
}

/// <summary>A closed program: inputs, nodes in topological order, outputs.</summary>
internal sealed class Graph
{
    public readonly Node[] Inputs;
    public readonly Node[] Nodes;
    public readonly Node[] Outputs;
    public Graph(Node[] inputs, Node[] nodes, Node[] outputs) { Inputs = inputs; Nodes = nodes; Outputs = outputs; }

    /// <summary>Each node's readers among <see cref="Nodes"/> (a node read twice by one reader lists it twice); nodes nobody reads are absent.</summary>
    public Dictionary<Node, List<Node>> Users()
    {
        var users = new Dictionary<Node, List<Node>>(RefEq<Node>.Instance);
        foreach (var n in Nodes)
            foreach (var x in n.Args)
            {
                if (!users.TryGetValue(x, out var l)) users[x] = l = new();
                l.Add(n);
            }
        return users;
    }

    /// <summary>Number of non-input, non-constant nodes: the size a derivative is compared by.</summary>
    public int OpCount => Nodes.Count(n => !n.IsConst && !n.IsInput) + Nodes.Sum(n => n.Subgraphs.Sum(s => s.OpCount));
}

/// <summary>Reference-equality comparer for nodes (they are values by identity).</summary>
internal sealed class RefEq<T> : IEqualityComparer<T> where T : class
{
    public static readonly RefEq<T> Instance = new();
    public bool Equals(T? x, T? y) => ReferenceEquals(x, y);
    public int GetHashCode(T obj) => RuntimeHelpers.GetHashCode(obj);
}
