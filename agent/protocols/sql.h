/* SPDX-License-Identifier: Apache-2.0 */
/* What obi reports of an SQL statement: its text with the literals hidden, its operation and
 * main table. Shared by the SQL protocols (PostgreSQL, MySQL). */
#ifndef OBI_SQL_H
#define OBI_SQL_H

#include <stddef.h>

/*
 * Copies the statement `q` (len bytes, not necessarily NUL-terminated) into out with every
 * literal — quoted strings, E'' and dollar-quoted strings, numbers — replaced by '?' and runs of
 * white space folded to one space; placeholders ($1, ?) stay. Always NUL-terminates out.
 */
void sql_sanitize(const char *q, size_t len, char *out, size_t size);

/*
 * The statement's operation (its first keyword, upper-cased: SELECT, INSERT, ...) and, where a
 * simple scan finds it, its main table (SELECT ... FROM t, INSERT INTO t, UPDATE t, DELETE FROM
 * t, and the same after WITH ... ). `collection` is "" when none is found.
 */
void sql_operation(const char *q, char *op, size_t op_size, char *collection,
		   size_t collection_size);

#endif /* OBI_SQL_H */
