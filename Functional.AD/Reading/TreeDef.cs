using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// The structure of a pytree type: a leaf (<see cref="Tensor"/>, <see cref="double"/>, <see cref="float"/>), a
/// static value (int, bool, string, enum: carried along, never differentiated), or a node (a record with a
/// positional constructor, or a ValueTuple) whose children are its constructor's parameters in order.
/// </summary>
internal sealed class TreeDef
{
    static readonly ConcurrentDictionary<Type, TreeDef> cache = new();

    public readonly Type Type;
    public readonly Kind? Leaf;
    public readonly bool IsStatic;
    public readonly TreeDef[] Children = [];
    public readonly MemberInfo[] Members = [];
    public readonly ConstructorInfo? Ctor;
    public readonly int LeafCount;

    TreeDef(Type t, Kind? leaf, bool isStatic)
    {
        Type = t; Leaf = leaf; IsStatic = isStatic; LeafCount = 1;
    }

    TreeDef(Type t, ConstructorInfo ctor, MemberInfo[] members)
    {
        Type = t; Ctor = ctor; Members = members;
        Children = members.Select(m => Of(MemberType(m))).ToArray();
        foreach (var c in Children) LeafCount += c.LeafCount;
    }

    public bool IsLeaf => Leaf is not null || IsStatic;

    public static Type MemberType(MemberInfo m) => m is PropertyInfo p ? p.PropertyType : ((FieldInfo)m).FieldType;

    static bool IsStaticType(Type t) => t == typeof(int) || t == typeof(long) || t == typeof(bool) || t == typeof(string) || t.IsEnum
        || Nullable.GetUnderlyingType(t) is { } u && IsStaticType(u);

    public static bool IsValueTuple(Type t) => t.IsGenericType && t.FullName!.StartsWith("System.ValueTuple`", StringComparison.Ordinal);

    public static TreeDef Of(Type t) => cache.GetOrAdd(t, Build);

    public static TreeDef? TryOf(Type t)
    {
        try { return Of(t); } catch (PytreeException) { return null; }
    }

    static TreeDef Build(Type t)
    {
        if (Kinds.Of(t) is Kind k && k.IsFloating()) return new TreeDef(t, k, false);
        if (IsStaticType(t)) return new TreeDef(t, null, true);
        if (IsValueTuple(t))
        {
            var fields = t.GetFields().Where(f => f.Name.StartsWith("Item", StringComparison.Ordinal) || f.Name == "Rest").OrderBy(f => f.MetadataToken).ToArray<MemberInfo>();
            var ctor = t.GetConstructor(fields.Select(MemberType).ToArray())!;
            return new TreeDef(t, ctor, fields);
        }
        if (t.IsArray)
            throw NotATree(t, $"an array ({Printer.TypeName(t)}) is not a pytree: its length is not part of its type, so a gradient could not be given the same structure");
        if (typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
            throw NotATree(t, $"{Printer.TypeName(t)} is a collection (it implements IEnumerable), and collections (List<T>, Dictionary<K, V>, sets) are not pytrees: their length is not part of their type");
        if (Nullable.GetUnderlyingType(t) is { } under)
            throw NotATree(t, $"a nullable {Printer.TypeName(under)} has no value to differentiate when it is null; pass a {Printer.TypeName(under)}");
        if (t.IsPrimitive || t.IsInterface || t.IsAbstract || typeof(Delegate).IsAssignableFrom(t) || typeof(Expression).IsAssignableFrom(t) || t.IsPointer || t.IsByRef)
            throw NotATree(t);
        var props = t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0).ToArray();
        ConstructorInfo? best = null; MemberInfo[]? bestMembers = null;
        foreach (var c in t.GetConstructors())
        {
            var ps = c.GetParameters();
            if (ps.Length == 0) continue;
            var members = new MemberInfo[ps.Length];
            bool ok = true;
            for (int i = 0; i < ps.Length && ok; i++)
            {
                var p = props.FirstOrDefault(q => string.Equals(q.Name, ps[i].Name, StringComparison.OrdinalIgnoreCase) && q.PropertyType == ps[i].ParameterType);
                if (p is null) ok = false; else members[i] = p;
            }
            if (ok && (best is null || ps.Length > bestMembers!.Length)) { best = c; bestMembers = members; }
        }
        if (best is null) throw NotATree(t, $"{Printer.TypeName(t)} has no public constructor whose parameters all match public properties by name and type");
        // a type that only looks like a record: state outside the constructor would be dropped by Tree.Map and Grad
        var covered = new HashSet<string>(bestMembers!.Select(m => m.Name));
        foreach (var p in props)
            if (!covered.Contains(p.Name) && p.SetMethod is { IsPublic: true })
                throw NotATree(t, $"its property {p.Name} is settable but is not a parameter of the constructor {Printer.TypeName(t)}({string.Join(", ", best.GetParameters().Select(q => Printer.TypeName(q.ParameterType) + " " + q.Name))}), so rebuilding a {Printer.TypeName(t)} from its leaves (Tree.Map, a gradient) would drop it; make {p.Name} a constructor parameter or a get-only computed property");
        foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
            if (!covered.Contains(f.Name))
                throw NotATree(t, $"its public field {f.Name} is not a parameter of the constructor {Printer.TypeName(t)}({string.Join(", ", best.GetParameters().Select(q => Printer.TypeName(q.ParameterType) + " " + q.Name))}), so rebuilding a {Printer.TypeName(t)} from its leaves (Tree.Map, a gradient) would drop it; make {f.Name} a constructor parameter");
        foreach (var m in bestMembers!)
        {
            var mt = MemberType(m);
            if (mt == t) throw new PytreeException($"Type {Printer.TypeName(t)} contains itself (member {m.Name}); pytrees must be finite.");
        }
        return new TreeDef(t, best, bestMembers!);
    }

    static PytreeException NotATree(Type t, string? why = null) => new(
        $"Type {Printer.TypeName(t)} is not a pytree{(why is null ? "" : ": " + why)}. A pytree is a Tensor, double or float leaf; an int, long, bool, string or enum " +
        "(static: carried along, not differentiated); a ValueTuple of pytrees; or a record or class with a positional constructor " +
        "whose parameters match its public properties by name and type and cover every settable one, for example `record Params(Tensor W, Tensor B);` (for a list of layers, one field per layer or a stacked Tensor).");

    public int IndexOf(MemberInfo m)
    {
        for (int i = 0; i < Members.Length; i++)
            if (Members[i].Name == m.Name) return i;
        return -1;
    }

    /// <summary>The leaves of a value of this type, depth first.</summary>
    public void Flatten(object? value, List<object?> into)
    {
        if (IsLeaf) { into.Add(value); return; }
        if (value is null) throw new ArgumentNullException(nameof(value), $"A null {Printer.TypeName(Type)} was passed where a pytree was expected.");
        for (int i = 0; i < Members.Length; i++)
            Children[i].Flatten(Members[i] is PropertyInfo p ? p.GetValue(value) : ((FieldInfo)Members[i]).GetValue(value), into);
    }

    public object? Unflatten(IReadOnlyList<object?> leaves, ref int pos)
    {
        if (IsLeaf) return leaves[pos++];
        var args = new object?[Children.Length];
        for (int i = 0; i < Children.Length; i++) args[i] = Children[i].Unflatten(leaves, ref pos);
        return Ctor!.Invoke(args);
    }

    /// <summary>Expressions reading each leaf of <paramref name="root"/>.</summary>
    public void LeafAccess(Expression root, List<Expression> into)
    {
        if (IsLeaf) { into.Add(root); return; }
        for (int i = 0; i < Members.Length; i++) Children[i].LeafAccess(Expression.MakeMemberAccess(root, Members[i]), into);
    }

    /// <summary>An expression constructing a value of this type from leaf expressions.</summary>
    public Expression Construct(IReadOnlyList<Expression> leaves, ref int pos)
    {
        if (IsLeaf) { var e = leaves[pos++]; return e.Type == Type ? e : Expression.Convert(e, Type); }
        var args = new Expression[Children.Length];
        for (int i = 0; i < Children.Length; i++) args[i] = Children[i].Construct(leaves, ref pos);
        return Expression.New(Ctor!, args);
    }

    /// <summary>Leaf kinds in order (static leaves are <see cref="Kind.Static"/>).</summary>
    public IEnumerable<LeafEntry> LeafInfo(string path)
    {
        if (IsLeaf) { yield return new LeafEntry(Leaf ?? Kind.Static, Type, path); yield break; }
        for (int i = 0; i < Members.Length; i++)
            foreach (var x in Children[i].LeafInfo(path + "." + Members[i].Name)) yield return x;
    }
}

/// <summary>
/// A leaf of a <see cref="TreeDef"/>: its kind, its type and its path. A class, not a value tuple: LINQ and arrays over a
/// value type of this library are generic code that no ReadyToRun image holds, so every fresh process would JIT-compile
/// them (about 30 methods on the way to a first Ad.Grad); over a class they share the base library's precompiled code.
/// </summary>
internal sealed record LeafEntry(Kind Kind, Type Type, string Path);
