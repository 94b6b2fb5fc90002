# shellcheck shell=sh
# results_block.sh - sourced by the bench scripts: stores a report in
# bench/RESULTS.md between its markers.
#
# results_block NAME REPORT DEST: REPORT starts with a line
# "<!-- BEGIN NAME..." and ends with "<!-- END NAME -->". In DEST the block
# between the same markers is replaced by REPORT and nothing else changes;
# without the markers REPORT is appended (DEST is created, with a title,
# when missing). The new file is written next to DEST and renamed over it.
results_block() {
	_rb_name=$1 _rb_rep=$2 _rb_dest=$3
	if [ -f "$_rb_dest" ] && grep -q "^<!-- BEGIN $_rb_name" "$_rb_dest" &&
		grep -q "^<!-- END $_rb_name" "$_rb_dest"; then
		awk -v rep="$_rb_rep" -v b="^<!-- BEGIN $_rb_name" -v e="^<!-- END $_rb_name" '
			$0 ~ b { while ((getline l < rep) > 0) print l; skip = 1; next }
			$0 ~ e { skip = 0; next }
			!skip { print }' "$_rb_dest" >"$_rb_dest.new" || return 1
	elif [ -f "$_rb_dest" ]; then
		{ cat "$_rb_dest" && echo && cat "$_rb_rep"; } >"$_rb_dest.new" || return 1
	else
		{ echo "# parade benchmark results" && echo && cat "$_rb_rep"; } >"$_rb_dest.new" || return 1
	fi
	mv "$_rb_dest.new" "$_rb_dest"
}
