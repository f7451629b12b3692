// SPDX-License-Identifier: Apache-2.0
/*
 * A client of server-side prepared statements (the binary protocol: COM_STMT_PREPARE,
 * COM_STMT_EXECUTE, COM_STMT_CLOSE) through libmariadb, for obi's integration tests.
 *
 *     mysql_stmt PORT USER PASSWORD DATABASE
 *
 * Prepares "SELECT name FROM items WHERE id = ?", executes it for ids 1 and 2, prints each
 * name, closes the statement. Exit code 0 when every call succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

static int fail(MYSQL *db, const char *what, const char *err)
{
	fprintf(stderr, "%s: %s\n", what, err);
	mysql_close(db);
	return 1;
}

int main(int argc, char **argv)
{
	static const char sql[] = "SELECT name FROM items WHERE id = ?";
	MYSQL *db = mysql_init(NULL);
	MYSQL_STMT *st;
	MYSQL_BIND param, col;
	char name[64];
	unsigned long name_len = 0;
	int id = 0;

	if (argc != 5 || !db)
		return 2;
	if (!mysql_real_connect(db, "127.0.0.1", argv[2], argv[3], argv[4], atoi(argv[1]), NULL,
				0))
		return fail(db, "connect", mysql_error(db));
	st = mysql_stmt_init(db);
	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
		return fail(db, "prepare", mysql_error(db));
	memset(&param, 0, sizeof(param));
	param.buffer_type = MYSQL_TYPE_LONG;
	param.buffer = &id;
	memset(&col, 0, sizeof(col));
	col.buffer_type = MYSQL_TYPE_STRING;
	col.buffer = name;
	col.buffer_length = sizeof(name) - 1;
	col.length = &name_len;
	if (mysql_stmt_bind_param(st, &param) || mysql_stmt_bind_result(st, &col))
		return fail(db, "bind", mysql_stmt_error(st));
	for (id = 1; id <= 2; id++) {
		if (mysql_stmt_execute(st) || mysql_stmt_store_result(st))
			return fail(db, "execute", mysql_stmt_error(st));
		while (mysql_stmt_fetch(st) == 0) {
			name[name_len < sizeof(name) ? name_len : sizeof(name) - 1] = '\0';
			printf("%d %s\n", id, name);
		}
		mysql_stmt_free_result(st);
	}
	mysql_stmt_close(st);
	mysql_close(db);
	return 0;
}
