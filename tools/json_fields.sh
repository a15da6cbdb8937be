# json_fields.sh — sourced by the eval scripts (POSIX sh) that read deit-eval's and the server's
# compact JSON, whose fields they need are flat and unique: no jq on a bare Debian.
#
#   num NAME < json   the number after "NAME": (empty when absent or null)
#   str NAME < json   the string after "NAME":
num() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9.eE+-]*\).*/\1/p" | head -n 1; }
str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }
