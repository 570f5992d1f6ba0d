using System.Globalization;
using System.Text;

namespace Functional.AD;

/// <summary>
/// numpy-style printing of tensors (numpy's default <c>repr</c>: shortest round-trip digits, at most 8
/// after the point, aligned columns, 75-character lines, summarised beyond 1000 elements).
/// </summary>
internal static class TensorFormat
{
    private const int LineWidth = 75, Threshold = 1000, EdgeItems = 3;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal static string Repr(Tensor t)
    {
        const string prefix = "Tensor(";
        var tail = $"dtype={DTypes.Name(t.DType)}{(t.IsWeak ? ", weak_type=True" : "")})";
        var values = t.ToDoubleArray();
        bool f32 = t.DType == DType.Float32;
        if (t.Size == 0)
        {
            string shape = t.Rank == 1 ? "" : $"shape=({string.Join(", ", t.Dims)}{(t.Rank == 1 ? "," : "")}), ";
            return $"{prefix}[], {shape}{tail}";
        }
        bool summarise = t.Size > Threshold;
        var dims = t.Dims;
        // which elements are shown: all, or the edges of each axis when summarising
        var shown = new List<double>();
        Walk(dims, summarise, (flat) => shown.Add(values[flat]));
        var fmt = Formatter.Create(shown, f32, t.DType);
        if (t.Rank == 0) return $"{prefix}{fmt.Format(values[0])}, {tail}";
        var sb = new StringBuilder(prefix);
        int strides0 = 1;
        var strides = new int[dims.Length];
        for (int i = dims.Length - 1; i >= 0; i--) { strides[i] = strides0; strides0 *= dims[i]; }
        Block(sb, values, dims, strides, 0, 0, prefix.Length, summarise, fmt, prefix.Length);
        sb.Append(", ").Append(tail);
        return sb.ToString();
    }

    private static IEnumerable<int> Shown(int n, bool summarise)
    {
        if (!summarise || n <= 2 * EdgeItems)
        {
            for (int i = 0; i < n; i++) yield return i;
            yield break;
        }
        for (int i = 0; i < EdgeItems; i++) yield return i;
        yield return -1; // ellipsis
        for (int i = n - EdgeItems; i < n; i++) yield return i;
    }

    private static void Walk(int[] dims, bool summarise, Action<int> visit)
    {
        void Rec(int axis, int offset, int stride)
        {
            if (axis == dims.Length) { visit(offset); return; }
            int inner = stride / Math.Max(dims[axis], 1);
            foreach (var i in Shown(dims[axis], summarise))
                if (i >= 0) Rec(axis + 1, offset + i * inner, inner);
        }
        int total = 1;
        foreach (var d in dims) total *= d;
        Rec(0, 0, total);
    }

    /// <summary>Appends the block at <paramref name="axis"/> starting at <paramref name="offset"/>; <paramref name="column"/> is the current line length.</summary>
    private static int Block(StringBuilder sb, double[] v, int[] dims, int[] strides, int axis, int offset, int column, bool summarise, Formatter fmt, int indentBase)
    {
        sb.Append('[');
        column++;
        int rank = dims.Length;
        string indent = new(' ', indentBase + axis + 1);
        bool first = true;
        if (axis == rank - 1)
        {
            foreach (var i in Shown(dims[axis], summarise))
            {
                string item = i < 0 ? "..." : fmt.Format(v[offset + i * strides[axis]]);
                if (!first)
                {
                    sb.Append(',');
                    column++;
                    if (column + 1 + item.Length + 1 > LineWidth)
                    {
                        sb.Append('\n').Append(indent);
                        column = indent.Length;
                    }
                    else { sb.Append(' '); column++; }
                }
                sb.Append(item);
                column += item.Length;
                first = false;
            }
        }
        else
        {
            string sep = "," + new string('\n', rank - axis - 1) + indent;
            foreach (var i in Shown(dims[axis], summarise))
            {
                if (!first) { sb.Append(sep); column = indent.Length; }
                if (i < 0) { sb.Append("..."); column += 3; }
                else column = Block(sb, v, dims, strides, axis + 1, offset + i * strides[axis], column, summarise, fmt, indentBase);
                first = false;
            }
        }
        sb.Append(']');
        return column + 1;
    }

    /// <summary>numpy's float formatting mode for one array: fixed or scientific, with aligned widths.</summary>
    private sealed class Formatter
    {
        private bool sci, f32, integer, boolean;
        private int intWidth, fracWidth, expWidth;

        internal static Formatter Create(List<double> shown, bool f32, DType dtype = DType.Float32)
        {
            // integers print as integers and bools as True/False, right-aligned in one width (numpy)
            if (DTypes.IsInteger(dtype) || dtype == DType.Bool)
            {
                var g = new Formatter { integer = DTypes.IsInteger(dtype), boolean = dtype == DType.Bool };
                g.intWidth = shown.Count == 0 ? 1 : shown.Max(x => g.Format(x).Length);
                return g;
            }
            var f = new Formatter { f32 = f32 };
            var finite = shown.Where(double.IsFinite).Select(Math.Abs).ToList();
            double max = finite.Count > 0 ? finite.Max() : 0;
            var nonzero = finite.Where(x => x != 0).ToList();
            double min = nonzero.Count > 0 ? nonzero.Min() : 0;
            f.sci = max >= 1e8 || (min != 0 && (min < 1e-4 || max / min > 1e3));
            int intW = 0, fracW = 0, expW = 0, specialW = 0;
            foreach (var x in shown)
            {
                if (!double.IsFinite(x)) { specialW = Math.Max(specialW, Special(x).Length); continue; }
                var (ip, fp, ep) = f.Parts(x);
                intW = Math.Max(intW, ip.Length);
                fracW = Math.Max(fracW, fp.Length);
                expW = Math.Max(expW, ep.Length);
            }
            // nan and inf are right-aligned in the column; widen the integer part if they need it (as numpy does)
            intW = Math.Max(intW, specialW - (fracW + 1 + expW));
            (f.intWidth, f.fracWidth, f.expWidth) = (intW, fracW, expW);
            return f;
        }

        private static string Special(double x) => double.IsNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";

        /// <summary>Shortest round-trip digits (at most 8 after the point): integer part, fraction digits, exponent text.</summary>
        private (string Int, string Frac, string Exp) Parts(double x)
        {
            if (sci)
            {
                string s = "";
                for (int p = 0; p <= 8; p++)
                {
                    s = x.ToString("E" + p, Inv);
                    double back = double.Parse(s, Inv);
                    if (f32 ? (float)back == (float)x : back == x) break;
                }
                int e = s.IndexOf('E');
                string mant = s[..e];
                int exp = int.Parse(s[(e + 1)..], Inv);
                string expText = (exp < 0 ? "e-" : "e+") + Math.Abs(exp).ToString("00", Inv);
                int dot = mant.IndexOf('.');
                return dot < 0 ? (mant, "", expText) : (mant[..dot], mant[(dot + 1)..].TrimEnd('0'), expText);
            }
            string r = f32 ? ((float)x).ToString("R", Inv) : x.ToString("R", Inv);
            if (r.Contains('E') || FracLen(r) > 8)
                r = Math.Round(x, 8, MidpointRounding.ToEven).ToString("0.########", Inv);
            int d = r.IndexOf('.');
            return d < 0 ? (r, "", "") : (r[..d], r[(d + 1)..], "");
        }

        private static int FracLen(string r)
        {
            int d = r.IndexOf('.');
            return d < 0 ? 0 : r.Length - d - 1;
        }

        internal string Format(double x)
        {
            string s;
            if (boolean) return (x != 0 ? "True" : "False").PadLeft(intWidth);
            if (integer) return ((long)x).ToString(Inv).PadLeft(intWidth);
            if (!double.IsFinite(x))
            {
                s = Special(x);
                return s.PadLeft(intWidth + 1 + fracWidth + expWidth);
            }
            var (ip, fp, ep) = Parts(x);
            // fixed notation pads the fraction with spaces, scientific with zeros (numpy)
            s = ip.PadLeft(intWidth) + "." + fp.PadRight(fracWidth, sci ? '0' : ' ') + ep.PadLeft(expWidth);
            return s;
        }
    }
}
